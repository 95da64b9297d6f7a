import { type NotChargedReason, runLink } from '../../../protocol/index.ts'
import type { JobCharge, WorkerJob } from '../worker-client.ts'
import { h } from './dom.ts'

const NOT_CHARGED_BECAUSE: Record<NotChargedReason, string> = {
  'trigger-failed': 'the pipeline could not be started',
  canceled: 'the pipeline was canceled before it ran',
  'agent-lost': 'the runner lost the job before it ended',
  'not-run': 'the runner refused to run it',
  'no-exit-code': 'the job ended without an exit code',
  'provider-quota': 'the CI provider refused to run it for quota',
  // The runner reported nothing by the job's deadline (its run time plus a grace to report).
  'no-result': "no result in time (the runner did not report before the job's deadline)",
}

/** Why a job is not charged, in words (an unknown code as it is). */
export function notChargedBecause(reason: string): string {
  return Object.hasOwn(NOT_CHARGED_BECAUSE, reason)
    ? NOT_CHARGED_BECAUSE[reason as NotChargedReason]
    : reason
}

/** What the user pays for a job, in words: the payable rule's outcome and its reason. */
export function chargeText(charge: JobCharge): string {
  if (charge.state === 'not-charged') return `not charged: ${notChargedBecause(charge.reason)}`
  if (charge.state === 'charged') return `charged ${charge.amount} credits`
  return `${charge.amount} credits, charged once the job has run to an end`
}

const PHASE: Record<string, string> = {
  queued: 'triggered',
  triggered: 'triggered',
  created: 'triggered',
  pending: 'triggered',
  waiting_for_resource: 'triggered',
  preparing: 'triggered',
  running: 'running',
  success: 'done',
  failed: 'failed',
  canceled: 'failed',
  skipped: 'failed',
  trigger_failed: 'failed',
}

/** The user-facing phase of a Worker job status: triggered, running, done or failed. */
export const phaseOf = (status: string): string => PHASE[status] ?? status

/** What names a service's runs: its provider, origin and project (the descriptor's fields). */
export interface RunProvider {
  provider: 'gitlab' | 'github'
  /** Absent for a private service: its runs are not linked. */
  providerUrl?: string
  project?: string
}

/**
 * Renders a job's status, pipeline link and history into `root`. The link comes from the Worker,
 * which got it from a webhook: it becomes an href only when it is on the service's provider
 * (https, same origin), checked here again so a compromised Worker cannot plant `javascript:`.
 */
export function renderJob(root: HTMLElement, job: WorkerJob, provider: RunProvider): void {
  const phase = phaseOf(job.status)
  const pipeline = job.pipeline
  const { providerUrl, project } = provider
  const link =
    pipeline?.webUrl && providerUrl && project
      ? runLink(pipeline.webUrl, { provider: provider.provider, providerUrl, project })
      : null
  const runName = provider.provider === 'github' ? 'GitHub workflow run' : 'GitLab pipeline'
  const parts: (HTMLElement | null)[] = [
    h('h3', {}, 'Job ', h('code', {}, job.jobId)),
    h(
      'p',
      {},
      'Status: ',
      h(
        'strong',
        { 'data-role': 'job-status', 'data-phase': phase, class: `phase ${phase}` },
        phase,
      ),
      ` (${job.status})`,
      pipeline ? ' · ' : null,
      pipeline && link
        ? h(
            'a',
            {
              href: link,
              target: '_blank',
              rel: 'noopener',
              'data-role': 'pipeline-link',
            },
            `${runName} #${pipeline.id}`,
          )
        : pipeline
          ? `${provider.provider === 'github' ? 'workflow run' : 'pipeline'} #${pipeline.id}`
          : null,
    ),
    job.charge
      ? h(
          'p',
          {},
          'Charge: ',
          h(
            'span',
            { 'data-role': 'job-charge', 'data-charge': job.charge.state },
            chargeText(job.charge),
          ),
        )
      : null,
    // What the user signed for this job, as the Worker recorded it at admission (shown only).
    job.voucher && /^\d{1,20}$/.test(String(job.voucher.cumulativeAmount))
      ? h(
          'p',
          {},
          'Admitted with your voucher for ',
          h(
            'span',
            { 'data-role': 'job-voucher' },
            `${job.voucher.cumulativeAmount} credits in all`,
          ),
        )
      : null,
    job.result
      ? h(
          'p',
          {},
          'Result bundle: ',
          h('code', { 'data-role': 'bundle-cid' }, job.result.bundleCid),
        )
      : null,
    h(
      'ol',
      { class: 'history' },
      ...job.history.map((e) =>
        h('li', {}, `${new Date(e.at).toLocaleTimeString()} ${e.status} (${e.source})`),
      ),
    ),
  ]
  root.replaceChildren(...parts.filter((n) => n !== null))
}

// The payable rule: the one place that decides whether a job is charged. The Worker releases what
// a user owes by it, the agent settles only payable results by it, the page explains it, and the
// service contract pays price × (payable results the runner newly commits), so all of them agree.

/** Why a job is not charged. */
export type NotChargedReason =
  /** The Worker could not trigger the pipeline (GitLab refused or never answered). */
  | 'trigger-failed'
  /** The pipeline was canceled or skipped before the runner reported a result. */
  | 'canceled'
  /** The runner's agent died while the job ran: its end and exit code are unknown. */
  | 'agent-lost'
  /** The runner refused the job before running it (e.g. `source-mismatch`). */
  | 'not-run'
  /** The job ended without an exit code (ended by a signal): it did not run to an end. */
  | 'no-exit-code'
  /** The CI provider refused to run the job for quota (GitLab's `ci_quota_exceeded`). */
  | 'provider-quota'

/** Whether a job is charged, and if not, why. */
export type Payability = { payable: true } | { payable: false; reason: NotChargedReason }

/** The fields of a runner-signed manifest (or of its result report) the rule reads. */
export interface RunEnd {
  exitCode: number | null
  signal?: string | null
  /** Set when the runner refused the job before running it; the value says why. */
  notRun?: string | null
}

/** The signal the agent records for a job its crashed predecessor watched. */
export const AGENT_LOST_SIGNAL = 'agent-lost'

/**
 * A job is payable when the runner-signed manifest records that it ran to an end, successful or
 * failed, with an exit code. Anything else (not run, lost, ended without an exit code) is not.
 */
export function payabilityOf(end: RunEnd): Payability {
  if (end.notRun !== undefined && end.notRun !== null) return { payable: false, reason: 'not-run' }
  if (end.signal === AGENT_LOST_SIGNAL) return { payable: false, reason: 'agent-lost' }
  if (end.exitCode === null) return { payable: false, reason: 'no-exit-code' }
  return { payable: true }
}

/** True when the job is payable (see payabilityOf). */
export const isPayable = (end: RunEnd): boolean => payabilityOf(end).payable

/**
 * A job's charge from what the Worker knows: a result decides by the rule; without a result, a
 * job whose trigger failed, whose pipeline was canceled or skipped, or that the provider refused
 * for quota is not charged, and any other job is still pending (`null`: it may yet run).
 */
export function chargeOfJob(job: {
  status: string
  result: RunEnd | null
  /** The provider said it will not run the job for quota (the service's authenticated webhook). */
  quotaRefused?: boolean
}): Payability | null {
  if (job.result !== null) return payabilityOf(job.result)
  if (job.quotaRefused === true) return { payable: false, reason: 'provider-quota' }
  if (job.status === 'trigger_failed') return { payable: false, reason: 'trigger-failed' }
  if (job.status === 'canceled' || job.status === 'skipped')
    return { payable: false, reason: 'canceled' }
  return null
}

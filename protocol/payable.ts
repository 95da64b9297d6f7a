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
  /**
   * No result came before the job's result deadline (the runner went silent, the pipeline
   * vanished, the agent died before reporting). Final: a later report is refused.
   */
  | 'no-result'

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
 * The longest a job may run when nothing else bounds it: GitHub Actions' default job limit
 * (6 h), above GitLab's default project timeout (1 h). Service descriptors carry no job timeout
 * yet, so every service gets this (or the Worker's MAX_JOB_SECONDS).
 */
export const DEFAULT_MAX_JOB_SECONDS = 6 * 60 * 60

/**
 * What the runner has after the longest job to sign, pin and report its result (an agent
 * restarted by its supervisor, a slow IPFS pin, the Worker briefly unreachable).
 */
export const DEFAULT_RESULT_GRACE_SECONDS = 60 * 60

/** How long a job may take to deliver its result: its run plus the grace for reporting. */
export interface ResultWindow {
  maxJobSeconds: number
  graceSeconds: number
}

/**
 * The instant (ms since the epoch) by which a job's result must be reported: its admission plus
 * the longest run plus the grace. It counts from admission, not from the run's start, so a job
 * that waited for a runner spends its window waiting: nothing the runner or the provider reports
 * can move it, and the user knows at admission when their funds come back at the latest.
 */
export function resultDeadline(
  admittedAtMs: number,
  window: ResultWindow = {
    maxJobSeconds: DEFAULT_MAX_JOB_SECONDS,
    graceSeconds: DEFAULT_RESULT_GRACE_SECONDS,
  },
): number {
  return admittedAtMs + (window.maxJobSeconds + window.graceSeconds) * 1000
}

/**
 * Whether a result reported at `nowMs` still counts. At or after the deadline it does not: the job
 * is decided `no-result`, the user's later vouchers already leave it out, and a report then must
 * not charge it again (nor can a runner charge for a job past its deadline).
 */
export const resultInTime = (resultByMs: number, nowMs: number): boolean => nowMs < resultByMs

/**
 * A job's charge from what the Worker knows: a result decides by the rule; without a result, a
 * job whose trigger failed, whose pipeline was canceled or skipped, or that the provider refused
 * for quota is not charged; a job whose result deadline (`resultBy`, see resultDeadline) has
 * passed at `nowMs` is not charged (`no-result`); any other job is still pending (`null`: it may
 * yet run). `result` is only a result reported in time (resultInTime): a late one is not stored.
 */
export function chargeOfJob(
  job: {
    status: string
    result: RunEnd | null
    /** The provider said it will not run the job for quota (the service's authenticated webhook). */
    quotaRefused?: boolean
    /** The job's result deadline in ms (resultDeadline); absent: no deadline is applied. */
    resultBy?: number
  },
  nowMs?: number,
): Payability | null {
  if (job.result !== null) return payabilityOf(job.result)
  if (job.quotaRefused === true) return { payable: false, reason: 'provider-quota' }
  if (job.status === 'trigger_failed') return { payable: false, reason: 'trigger-failed' }
  if (job.status === 'canceled' || job.status === 'skipped')
    return { payable: false, reason: 'canceled' }
  if (job.resultBy !== undefined && nowMs !== undefined && !resultInTime(job.resultBy, nowMs))
    return { payable: false, reason: 'no-result' }
  return null
}

/** Stable codes for every way the agent can fail. Never renamed: scripts and tests match on them. */
export const AgentErrorCode = {
  /** The resolved configuration is invalid (bad file, variable or flag). */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** The job command could not be started. */
  SPAWN_FAILED: 'SPAWN_FAILED',
  /** No runner key is configured or it does not parse. */
  MISSING_KEY: 'MISSING_KEY',
  /** A spooled job is missing or its state file is unreadable. */
  SPOOL_CORRUPT: 'SPOOL_CORRUPT',
  /** No spooled job has this id. */
  UNKNOWN_JOB: 'UNKNOWN_JOB',
  /** The Worker did not accept a result report. */
  REPORT_FAILED: 'REPORT_FAILED',
  /** The Worker holds a different result for this job (HTTP 409): never taken for success. */
  REPORT_CONFLICT: 'REPORT_CONFLICT',
  /**
   * The Worker refused the report: the job's result deadline passed first, so it was decided not
   * charged (`no-result`, HTTP 410 `result_too_late`). Final: the job is never claimed.
   */
  REPORT_TOO_LATE: 'REPORT_TOO_LATE',
  /** No settlement client is wired or the transaction failed. */
  SETTLE_FAILED: 'SETTLE_FAILED',
  /** IPFS add, pin or read failed. */
  IPFS_FAILED: 'IPFS_FAILED',
  /** A bundle's hashes or signature do not match its manifest. */
  BUNDLE_INVALID: 'BUNDLE_INVALID',
  /** The signer refused a request (it only runs jobs; it signs nothing it did not observe). */
  SIGNER_REFUSED: 'SIGNER_REFUSED',
  /** Another job's processes run as the job user: one job at a time per job user (job-scope.ts). */
  JOB_USER_BUSY: 'JOB_USER_BUSY',
  /** The GitLab custom executor was called in a way it does not support. */
  EXECUTOR_USAGE: 'EXECUTOR_USAGE',
  /** A driver call would sign a voucher beyond the operator's budget: nothing was signed. */
  CALL_BUDGET_EXHAUSTED: 'CALL_BUDGET_EXHAUSTED',
  /** A driver call was refused before signing (call path, driver unknown, Worker refusal). */
  CALL_REFUSED: 'CALL_REFUSED',
  /** The driver's job did not succeed: the outer job may not use its result. */
  CALL_FAILED: 'CALL_FAILED',
  /** A link of the driver's result did not verify: the outer job may not use it. */
  CALL_UNVERIFIED: 'CALL_UNVERIFIED',
} as const

/** One of the stable agent error codes. */
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode]

/** A failure of the agent with a stable code; the CLI prints `code: message` on one line. */
export class AgentError extends Error {
  override readonly name = 'AgentError'
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

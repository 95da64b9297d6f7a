import type { ResultReport } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'

/** How to reach the Worker and how hard to try. */
export interface ReportOptions {
  workerUrl: string
  attempts: number
  /** First back-off delay; doubles per attempt. */
  baseDelayMs?: number
  fetch?: typeof fetch
  signal?: AbortSignal
}

/**
 * Posts a result report to `POST {workerUrl}/v1/jobs/:id/result`, retrying network errors, 5xx
 * and 429 with exponential back-off. 2xx acknowledges (200 when the Worker already holds this very
 * report). 409 means the Worker holds a *different* result for the job, signed by this runner's
 * key: a replay, a second run or a stolen key, so it fails with REPORT_CONFLICT, never as success.
 * 410 means the job's result deadline passed before the report (REPORT_TOO_LATE): the Worker
 * decided it not charged, and no retry changes that.
 */
export async function reportResult(report: ResultReport, options: ReportOptions): Promise<void> {
  const doFetch = options.fetch ?? fetch
  const url = new URL(`/v1/jobs/${report.jobId}/result`, options.workerUrl)
  let last = ''
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    if (attempt > 0)
      await new Promise((r) => setTimeout(r, (options.baseDelayMs ?? 500) * 2 ** (attempt - 1)))
    try {
      const res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(report),
        signal: options.signal ?? AbortSignal.timeout(15_000),
      })
      if (res.ok) return
      if (res.status === 410)
        throw new AgentError(
          AgentErrorCode.REPORT_TOO_LATE,
          `the Worker decided job ${report.jobId} not charged (no result by its deadline): ${(await res.text()).slice(0, 200)}`,
        )
      if (res.status === 409)
        throw new AgentError(
          AgentErrorCode.REPORT_CONFLICT,
          `the Worker holds a different result for job ${report.jobId}: ${(await res.text()).slice(0, 200)}`,
        )
      last = `HTTP ${res.status} ${(await res.text()).slice(0, 200)}`
      if (res.status < 500 && res.status !== 429) break
    } catch (e) {
      if (e instanceof AgentError) throw e
      last = (e as Error).message
    }
  }
  throw new AgentError(
    AgentErrorCode.REPORT_FAILED,
    `report of job ${report.jobId} to ${url.origin}: ${last}`,
  )
}

// The provider-quota health check of one service (a circuit breaker). When the CI provider refuses
// a job for quota (GitLab's `ci_quota_exceeded`), the service is switched off for a while, so no
// user is charged for, or kept waiting on, jobs the provider will not run. When the while is up,
// exactly one job is let through as the probe: if the provider runs it, the service is on again;
// if it refuses it too (not charged either way), the service stays off twice as long. Nothing
// outside the provider's own answers turns it on or off, so no restart and no operator call.
import { ServiceUnavailable } from '../protocol/index.ts'

/** How many times the first wait a failed probe can stretch it to. */
const MAX_BACKOFF_FACTOR = 64

/** The breaker's tables: created with the service's other tables, in its Durable Object. */
export const PROVIDER_QUOTA_SCHEMA = `
  CREATE TABLE IF NOT EXISTS provider_quota (
    id INTEGER PRIMARY KEY CHECK (id = 1), since INTEGER NOT NULL, probe_at INTEGER NOT NULL,
    backoff_ms INTEGER NOT NULL, probe_job TEXT);
  CREATE TABLE IF NOT EXISTS quota_refused_jobs (job_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
`

/** The breaker's state as the service's status shows it. */
export interface QuotaState {
  /** When the provider first refused a job for quota (ms since the epoch). */
  since: number
  /** When one job may probe the provider again (ms since the epoch). */
  probeAt: number
  /** The job probing the provider now, if one was let through. */
  probeJob: string | null
}

/** A row of provider_quota (a type, not an interface: SqlStorage's exec wants an indexable row). */
type Row = {
  since: number
  probe_at: number
  backoff_ms: number
  probe_job: string | null
}

/**
 * Whether one job may probe the provider now: the wait is up and no probe is out, or the probe
 * has had no answer for another whole wait (its trigger failed, its webhooks were lost): a probe
 * that never answers must not keep the service off for good.
 */
function probeDue(row: Row, now: number): boolean {
  if (row.probe_job === null) return now >= row.probe_at
  return now >= row.probe_at + row.backoff_ms
}

/** One service's quota breaker over its Durable Object's SQL storage (synchronous, like the rest). */
export class ProviderQuota {
  readonly #sql: SqlStorage
  /** The first wait after a refusal, in ms (QUOTA_PROBE_SECONDS). */
  readonly #probeMs: number

  constructor(sql: SqlStorage, probeMs: number) {
    this.#sql = sql
    this.#probeMs = probeMs
  }

  #row(): Row | null {
    const rows = this.#sql
      .exec<Row>('SELECT since, probe_at, backoff_ms, probe_job FROM provider_quota WHERE id = 1')
      .toArray()
    return rows[0] ?? null
  }

  /** The breaker's state, or null while the provider takes work. */
  state(): QuotaState | null {
    const row = this.#row()
    return row && { since: row.since, probeAt: row.probe_at, probeJob: row.probe_job }
  }

  /**
   * The health finding for the availability rule at `now`: `provider-quota` while the service is
   * off (before its probe time, or while a probe job is out), nothing otherwise.
   */
  health(now: number): (typeof ServiceUnavailable.PROVIDER_QUOTA)[] {
    const row = this.#row()
    if (row === null || probeDue(row, now)) return []
    return [ServiceUnavailable.PROVIDER_QUOTA]
  }

  /**
   * Called inside the admission's transaction for a job the rule let through: if the breaker is
   * waiting for a probe, this job is it (the next request sees the service off again until the
   * provider has answered for this one).
   */
  admitted(jobId: string, now: number): void {
    const row = this.#row()
    if (row === null || !probeDue(row, now)) return
    this.#sql.exec('UPDATE provider_quota SET probe_job = ? WHERE id = 1', jobId)
  }

  /**
   * The provider refused `jobId` for quota (its authenticated webhook said so). The first refusal
   * switches the service off for the first wait; a refused probe doubles the wait. A refusal of a
   * job admitted before the breaker opened changes only that job.
   */
  refused(jobId: string, now: number): void {
    this.#sql.exec(
      'INSERT OR IGNORE INTO quota_refused_jobs (job_id, at) VALUES (?, ?)',
      jobId,
      now,
    )
    const row = this.#row()
    if (row === null) {
      this.#sql.exec(
        'INSERT INTO provider_quota (id, since, probe_at, backoff_ms, probe_job) VALUES (1, ?, ?, ?, NULL)',
        now,
        now + this.#probeMs,
        this.#probeMs,
      )
      return
    }
    if (row.probe_job !== jobId) return
    const backoff = Math.min(row.backoff_ms * 2, this.#probeMs * MAX_BACKOFF_FACTOR)
    this.#sql.exec(
      'UPDATE provider_quota SET probe_at = ?, backoff_ms = ?, probe_job = NULL WHERE id = 1',
      now + backoff,
      backoff,
    )
  }

  /**
   * The provider started or finished `jobId` on a runner (or the runner reported a result): it
   * takes work again, so the service is on. A late event of a job refused earlier changes nothing.
   */
  ran(jobId: string): void {
    if (this.isRefused(jobId)) return
    this.#sql.exec('DELETE FROM provider_quota WHERE id = 1')
  }

  /** Whether the provider refused this job for quota: it is not charged. */
  isRefused(jobId: string): boolean {
    return (
      this.#sql.exec('SELECT 1 FROM quota_refused_jobs WHERE job_id = ?', jobId).toArray().length >
      0
    )
  }
}

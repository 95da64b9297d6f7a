import {
  nextPoolVoucher,
  parseSponsorshipGrant,
  type SponsorshipGrant,
  type Voucher,
} from '../protocol/index.ts'
import { ApiError, ApiErrorCode } from './errors.ts'

// The sponsorships of one service version, kept in its Durable Object: each sponsor's signed
// grant (its limits and its bundle of pool vouchers) and the sponsored jobs, for the per-user
// daily allowance and for knowing which channel a job's charge counts against. What the pool can
// fund comes from the ledger's book (the pool is the sponsor's channel); what admitted jobs owe it
// is the object's channel row for the sponsor, which the payable rule lowers as for any user.

/** The tables this part keeps in the service's object. */
export const SPONSOR_POOLS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS sponsorships (
    sponsor TEXT PRIMARY KEY, grant_json TEXT NOT NULL, added_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS sponsored_jobs (
    job_id TEXT PRIMARY KEY, sponsor TEXT NOT NULL, user TEXT NOT NULL, day INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS sponsored_jobs_allowance ON sponsored_jobs (sponsor, user, day);
`

/** Sponsors one service keeps at most: each costs a read of its pool whenever the status is asked. */
export const MAX_SPONSORSHIPS = 64

/** The UTC day (days since the epoch) a moment falls in: allowances count per UTC day. */
export const utcDay = (ms: number) => Math.floor(ms / 86_400_000)

/** What the pool can pay now, by the ledger and the object's own count of what it owes. */
export interface PoolFigures {
  /** What the pool's channel may pay in all: paid so far plus fundable, no more than the cap. */
  deposit: bigint
  /** What admitted jobs owe the pool (payable or still undecided), as the object counts it. */
  owed: bigint
  /** deposit − owed: what is left for new jobs (never below 0). */
  fundable: bigint
  /** False once the sponsorship's end slot is reached or its vouchers are spent. */
  open: boolean
  /** The voucher the next sponsored job carries, or null when the bundle is spent. */
  next: Voucher | null
}

/** One service's sponsorships over the object's SQL storage. */
export class SponsorPools {
  constructor(readonly sql: SqlStorage) {}

  /** The sponsor's grant, or null. */
  grant(sponsor: string): SponsorshipGrant | null {
    const row = this.sql
      .exec<{ grant_json: string }>(
        'SELECT grant_json FROM sponsorships WHERE sponsor = ?',
        sponsor,
      )
      .toArray()[0]
    if (!row) return null
    const parsed = parseSponsorshipGrant(JSON.parse(row.grant_json))
    return parsed.ok ? parsed.value : null
  }

  /** Every grant, oldest first. */
  all(): SponsorshipGrant[] {
    return this.sql
      .exec<{ sponsor: string }>('SELECT sponsor FROM sponsorships ORDER BY added_at, sponsor')
      .toArray()
      .flatMap((r) => this.grant(r.sponsor) ?? [])
  }

  /**
   * Stores a signature-checked grant. A sponsor's later grant replaces its earlier one only when
   * its vouchers start above the earlier bundle's last nonce: an older grant replayed by anyone
   * cannot bring back limits the sponsor replaced.
   */
  offer(grant: SponsorshipGrant, now: number): void {
    const { sponsor } = grant.sponsorship
    const earlier = this.grant(sponsor)
    if (!earlier) {
      const count = this.sql
        .exec<{ n: number }>('SELECT COUNT(*) AS n FROM sponsorships')
        .toArray()[0]
      if ((count?.n ?? 0) >= MAX_SPONSORSHIPS) {
        throw new ApiError(
          409,
          ApiErrorCode.SPONSORSHIPS_FULL,
          `this service has ${MAX_SPONSORSHIPS} sponsors already`,
        )
      }
    }
    if (earlier) {
      const last = BigInt(earlier.vouchers[earlier.vouchers.length - 1]!.nonce)
      if (BigInt(grant.vouchers[0]!.nonce) <= last) {
        throw new ApiError(
          409,
          ApiErrorCode.SPONSORSHIP_STALE,
          `a new grant of this sponsor must start its vouchers above nonce ${last}`,
          ['vouchers', 0, 'nonce'],
        )
      }
    }
    this.sql.exec(
      'INSERT OR REPLACE INTO sponsorships (sponsor, grant_json, added_at) VALUES (?, ?, ?)',
      sponsor,
      JSON.stringify(grant),
      now,
    )
  }

  /** The pool's figures from the ledger's funding of its channel and the object's count. */
  figures(
    grant: SponsorshipGrant,
    ledger: { deposit: bigint; settledNonce: bigint },
    channel: { cumulative: bigint; nonce: bigint },
    currentSlot: bigint,
  ): PoolFigures {
    const cap = BigInt(grant.sponsorship.cap)
    const deposit = ledger.deposit < cap ? ledger.deposit : cap
    const fundable = deposit > channel.cumulative ? deposit - channel.cumulative : 0n
    // A voucher at or below what the pool used, or what the ledger settled or closed, is stale.
    const above = channel.nonce > ledger.settledNonce ? channel.nonce : ledger.settledNonce
    const next = nextPoolVoucher(grant.vouchers, above)
    const open = currentSlot < BigInt(grant.sponsorship.endSlot) && next !== null
    return { deposit, owed: channel.cumulative, fundable, open, next }
  }

  /** Jobs `user` ran on the sponsor's pool on UTC day `day`. */
  usedOn(sponsor: string, user: string, day: number): number {
    const row = this.sql
      .exec<{ n: number }>(
        'SELECT COUNT(*) AS n FROM sponsored_jobs WHERE sponsor = ? AND user = ? AND day = ?',
        sponsor,
        user,
        day,
      )
      .toArray()[0]
    return row?.n ?? 0
  }

  /** Records an admitted sponsored job. */
  record(jobId: string, sponsor: string, user: string, day: number): void {
    this.sql.exec(
      'INSERT INTO sponsored_jobs (job_id, sponsor, user, day) VALUES (?, ?, ?, ?)',
      jobId,
      sponsor,
      user,
      day,
    )
  }

  /** The sponsor whose pool pays for a job, or null for a job its user pays. */
  payerOf(jobId: string): string | null {
    const row = this.sql
      .exec<{ sponsor: string }>('SELECT sponsor FROM sponsored_jobs WHERE job_id = ?', jobId)
      .toArray()[0]
    return row?.sponsor ?? null
  }
}

import {
  type BookChannel,
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
  CREATE TABLE IF NOT EXISTS sponsorship_floors (
    sponsor TEXT PRIMARY KEY, last_nonce TEXT NOT NULL);
`

/** Sponsors one service keeps at most: each costs a read of its pool whenever the status is asked. */
export const MAX_SPONSORSHIPS = 64

/** The UTC day (days since the epoch) a moment falls in: allowances count per UTC day. */
export const utcDay = (ms: number) => Math.floor(ms / 86_400_000)

/**
 * Whether a kept grant's pool can pay no more job, whatever users do: its ledger channel holds
 * less than one price (a pending withdrawal counts as empty), its cap is paid out, its end slot is
 * reached, or its bundle is spent. Jobs in flight are not counted against it: a pool that only
 * waits for their outcome may get a price back and is still alive. Only a sponsor's deposit (a
 * refill with a new grant) brings a dead pool back, so its slot may go to another sponsor.
 */
export function isDeadPool(
  grant: SponsorshipGrant,
  ledger: Pick<BookChannel, 'deposited' | 'paidSoFar' | 'voucherNonce' | 'withdrawRequestedAtSlot'>,
  channel: { nonce: bigint },
  price: bigint,
  currentSlot: bigint,
): boolean {
  const balance = ledger.withdrawRequestedAtSlot !== 0n ? 0n : ledger.deposited - ledger.paidSoFar
  const capLeft = BigInt(grant.sponsorship.cap) - ledger.paidSoFar
  const above = channel.nonce > ledger.voucherNonce ? channel.nonce : ledger.voucherNonce
  return (
    balance < price ||
    capLeft < price ||
    currentSlot >= BigInt(grant.sponsorship.endSlot) ||
    nextPoolVoucher(grant.vouchers, above) === null
  )
}

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
   * cannot bring back limits the sponsor replaced (nor after its grant was evicted: the floor stays).
   * When every slot is taken, the dead grants (`isDead`, see isDeadPool) are evicted first: a
   * stranger who fills the slots with tiny pools and withdraws them cannot lock real sponsors out.
   * A full set of live pools still refuses (409 sponsorships_full).
   */
  offer(grant: SponsorshipGrant, now: number, isDead: (g: SponsorshipGrant) => boolean): void {
    const { sponsor } = grant.sponsorship
    const earlier = this.grant(sponsor)
    const floor = earlier ? lastNonce(earlier) : this.#floor(sponsor)
    if (floor !== null && BigInt(grant.vouchers[0]!.nonce) <= floor) {
      throw new ApiError(
        409,
        ApiErrorCode.SPONSORSHIP_STALE,
        `a new grant of this sponsor must start its vouchers above nonce ${floor}`,
        ['vouchers', 0, 'nonce'],
      )
    }
    if (!earlier && this.#count() >= MAX_SPONSORSHIPS) {
      for (const g of this.all()) if (isDead(g)) this.#evict(g)
      if (this.#count() >= MAX_SPONSORSHIPS) {
        throw new ApiError(
          409,
          ApiErrorCode.SPONSORSHIPS_FULL,
          `this service has ${MAX_SPONSORSHIPS} sponsors whose pools can still pay a job; try again when one runs dry`,
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

  #count(): number {
    return (
      this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM sponsorships').toArray()[0]?.n ?? 0
    )
  }

  /** The highest voucher nonce of the sponsor's evicted grant, or null. */
  #floor(sponsor: string): bigint | null {
    const row = this.sql
      .exec<{ last_nonce: string }>(
        'SELECT last_nonce FROM sponsorship_floors WHERE sponsor = ?',
        sponsor,
      )
      .toArray()[0]
    return row ? BigInt(row.last_nonce) : null
  }

  /**
   * Drops a dead grant, keeping its last nonce as the sponsor's floor (one short row). Its jobs
   * stay in sponsored_jobs: their charges still count against the sponsor's channel.
   */
  #evict(grant: SponsorshipGrant): void {
    const { sponsor } = grant.sponsorship
    this.sql.exec(
      'INSERT OR REPLACE INTO sponsorship_floors (sponsor, last_nonce) VALUES (?, ?)',
      sponsor,
      String(lastNonce(grant)),
    )
    this.sql.exec('DELETE FROM sponsorships WHERE sponsor = ?', sponsor)
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

/** The highest voucher nonce of a grant's bundle (nonces strictly increase). */
const lastNonce = (g: SponsorshipGrant) => BigInt(g.vouchers[g.vouchers.length - 1]!.nonce)

import type { Voucher } from '../../protocol/index.ts'

/** One user's unsettled jobs on one service, with the voucher that pays for them. */
export interface SettlementBatch {
  service: string
  user: string
  /** The user's latest voucher (highest nonce) among the jobs. */
  voucher: Voucher
  /** Jobs in the order they entered the queue, with their manifest digests (hex). */
  jobs: { jobId: string; manifestDigest: string }[]
  /**
   * Manifest digests (hex) of the user's jobs settled before, in leaf order: the results root a
   * settlement records covers every settled job of the user, these first.
   */
  settled: string[]
}

/** What one settlement did. */
export interface SettleResult {
  /** Hash of the included transaction. */
  txHash: string
  /** How many of the batch's jobs (a prefix) it covered; the rest wait for a newer voucher. */
  jobs: number
}

/** What a flush did for one service. */
export interface FlushResult {
  /** Batch transactions sent (each applies up to LEDGER_BATCH_SIZE actions). */
  batches: number
  /** Credits the runner redeemed (base units, decimal string; "0" when nothing was owed). */
  redeemed: string
}

/**
 * Sends one settlement transaction for a batch and resolves once it is included. The contracts'
 * client builds the transaction; the agent only supplies the results root and its signature.
 */
export interface Settler {
  /**
   * Lands the settlement of one batch (on a ledger: the runner's claim, whose outcome its place in
   * the action order decides at once) and resolves once it is included.
   */
  settle(batch: SettlementBatch, options?: { signal?: AbortSignal }): Promise<SettleResult>
  /**
   * After every claim of a round landed: applies the service's pending actions (its batches) and
   * redeems what the runner was paid, once for the round, not once a claim.
   */
  flush?(service: string): Promise<FlushResult>
  /**
   * The slot from which the user may withdraw what the runner has not settled by then, or null
   * when no withdrawal is pending. The queue settles the earliest deadlines first.
   */
  withdrawalDeadline?(service: string, user: string): Promise<bigint | null>
}

import type { Voucher } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'

/** One user's unsettled jobs on one service, with the voucher that pays for them. */
export interface SettlementBatch {
  service: string
  user: string
  /** The user's latest voucher (highest nonce) among the jobs. */
  voucher: Voucher
  /** Jobs in the order they entered the queue, with their manifest digests (hex). */
  jobs: { jobId: string; manifestDigest: string }[]
}

/**
 * Sends one settlement transaction for a batch: the contracts' client builds the results root
 * (Poseidon Merkle tree over manifestMessage(digest)) and the runner's signature over
 * settleMessage. The agent never builds transactions itself.
 */
export interface Settler {
  settle(batch: SettlementBatch, options?: { signal?: AbortSignal }): Promise<{ txHash: string }>
}

/** A settler for when no contracts client is wired: fails with a clear reason, jobs stay queued. */
export const unwiredSettler: Settler = {
  async settle() {
    throw new AgentError(
      AgentErrorCode.SETTLE_FAILED,
      'no settlement client is wired (contracts/ client missing); jobs stay queued',
    )
  },
}

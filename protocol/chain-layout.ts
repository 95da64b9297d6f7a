// The service contract's on-chain state as every reader (Worker, page, agent) decodes it from
// Mina GraphQL `zkappState` (8 decimal strings). The contract writes exactly this layout.

const TWO_32 = 1n << 32n
const TWO_64 = 1n << 64n

/** Index of each service contract state field. */
export const ServiceState = {
  /** Git commit SHA-1 of the pipeline definition, as an integer (frozen). */
  sourceCommitment: 0,
  /** First field of cidToFields(descriptor CID) (frozen). */
  descriptorCid0: 1,
  /** Second field of cidToFields(descriptor CID) (frozen). */
  descriptorCid1: 2,
  /** pricePerJob + withdrawTimelockSlots * 2^64 (frozen). */
  terms: 3,
  /** Poseidon(runner public key fields) (frozen). */
  runnerKeyHash: 4,
  /** Poseidon(digestToFields(sha256(Worker HPKE public key))) (frozen). */
  workerKeyHash: 5,
  /**
   * The x coordinate of the address of the service's ChannelLedger, whose key has an even y
   * (isOdd false): readers derive the ledger's address from the service alone (frozen). Deposits,
   * channels and settlements live in the ledger.
   */
  ledger: 6,
  /** lastHeartbeatSlot + settledJobs * 2^32. */
  heartbeat: 7,
} as const

/**
 * Index of each ChannelLedger state field (o1js lays fields out in declaration order; a
 * contracts test checks the contract writes exactly this).
 */
export const LedgerState = {
  /** BatchReducer's processed action state. */
  actionState: 0,
  /** BatchReducer's stack of pending action lists. */
  actionStack: 1,
  /** Root of the per-user channel map (LedgerChannel hashes). */
  channelsRoot: 2,
  /** Same packing as the service's terms (frozen). */
  terms: 3,
  /** Poseidon(runner public key fields) (frozen). */
  runnerKeyHash: 4,
  /** Credits the batches paid the runner in total. */
  runnerPaid: 5,
  /** Credits the batches granted users as refunds in total. */
  refunded: 6,
  /** Poseidon(service address fields) of the service the ledger settles for (frozen). */
  serviceKeyHash: 7,
} as const

/**
 * Index of each LedgerVault state field (the vault: the ledger's address, credit token). The
 * runner's credits still to redeem are the ledger's `runnerPaid` minus `redeemed`, whatever
 * payout receipts it holds (the ledger key can mint receipts before the ledger's freeze).
 */
export const LedgerVaultState = {
  /** Credits LedgerVault.redeem paid the runner in total (never above the ledger's runnerPaid). */
  redeemed: 0,
} as const

/**
 * What a service's ledger has paid its runner (its runnerPaid, state field 5) and the jobs that
 * pays for at the frozen price: the chain's count of settled jobs (0 without a ledger state; a
 * free service pays nothing, so it shows none). Every reader (Worker, page) counts through here.
 */
export function ledgerPaid(
  ledgerState: readonly bigint[] | null | undefined,
  pricePerJob: bigint,
): { runnerPaid: bigint; settledJobs: bigint } {
  const runnerPaid = ledgerState?.[LedgerState.runnerPaid] ?? 0n
  return { runnerPaid, settledJobs: pricePerJob > 0n ? runnerPaid / pricePerJob : 0n }
}

/** How many state fields the service layout occupies (8 today; an o1js 3 account has 32 in all). */
export const SERVICE_STATE_FIELDS = Math.max(...Object.values(ServiceState)) + 1

/** Whether an account's `zkappState` is long enough to hold the service layout. */
export const holdsServiceState = (
  fields: readonly bigint[] | null | undefined,
): fields is readonly bigint[] => fields != null && fields.length >= SERVICE_STATE_FIELDS

/** The frozen price and refund timelock of a service version. */
export interface ServiceTerms {
  pricePerJob: bigint
  withdrawTimelockSlots: bigint
}

/** Packs terms into one field. */
export const encodeTerms = (t: ServiceTerms): bigint =>
  t.pricePerJob + t.withdrawTimelockSlots * TWO_64

/** Unpacks the terms field. */
export const decodeTerms = (field: bigint): ServiceTerms => ({
  pricePerJob: field % TWO_64,
  withdrawTimelockSlots: field / TWO_64,
})

/** A heartbeat or withdrawal request is valid this many slots after the slot it names. */
export const SLOT_WINDOW = 10

/**
 * Bounds of a service's withdrawal timelock, refused outside them at deploy. The minimum leaves
 * the runner one SLOT_WINDOW-sized margin twice over to land its claims (5 a transaction; an
 * operator with many users sets more: contracts/README.md, "Minimum timelock").
 * The maximum (2^20 slots, about 6 years of 3-minute slots) keeps `requestedAt + timelock` far
 * from the UInt32 slot limit, where a withdrawal could never unlock.
 */
export const WITHDRAW_TIMELOCK_BOUNDS = { min: 20n, max: 1n << 20n } as const

/** True when a withdrawal timelock is within WITHDRAW_TIMELOCK_BOUNDS. */
export const withdrawTimelockInBounds = (slots: bigint): boolean =>
  slots >= WITHDRAW_TIMELOCK_BOUNDS.min && slots <= WITHDRAW_TIMELOCK_BOUNDS.max

/**
 * The highest price of one job, refused above it at deploy: processBatch adds `price × new results`
 * (results ≤ 1,024, 2^10) to 64-bit counters, so a price up to 2^54 can never overflow them and
 * make a batch unprovable, which would freeze every channel of the ledger (withdrawals included).
 */
export const MAX_PRICE_PER_JOB = 1n << 54n

/** True when a price per job is at most MAX_PRICE_PER_JOB. */
export const priceInBounds = (price: bigint): boolean => price >= 0n && price <= MAX_PRICE_PER_JOB

/** The runner's liveness and throughput counters. */
export interface ServiceHeartbeat {
  lastHeartbeatSlot: bigint
  settledJobs: bigint
}

/** Packs the heartbeat field. */
export const encodeHeartbeat = (h: ServiceHeartbeat): bigint =>
  h.lastHeartbeatSlot + h.settledJobs * TWO_32

/** Unpacks the heartbeat field. */
export const decodeHeartbeat = (field: bigint): ServiceHeartbeat => ({
  lastHeartbeatSlot: field % TWO_32,
  settledJobs: field / TWO_32,
})

/** A git commit SHA-1 (hex) as the integer stored in state. */
export const commitToField = (sha: string): bigint => BigInt(`0x${sha}`)

/** The integer stored in state back to a 40-digit commit SHA. */
export const fieldToCommit = (field: bigint): string => field.toString(16).padStart(40, '0')

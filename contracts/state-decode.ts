// Pure decoders of a service contract's on-chain state. No o1js here on purpose: the Worker and
// the page read the state as decimal strings from GraphQL (`zkappState`) and decide with these.

/** Index of each field in a service contract's app state. */
export const SERVICE_STATE_INDEX = {
  sourceCommitment: 0,
  descriptorCid0: 1,
  descriptorCid1: 2,
  terms: 3,
  runnerKeyHash: 4,
  workerKeyHash: 5,
  channelsRoot: 6,
  heartbeat: 7,
} as const

const MASK_32 = (1n << 32n) - 1n
const MASK_64 = (1n << 64n) - 1n

/** Frozen commercial terms of a service version. */
export interface ServiceTerms {
  pricePerJob: bigint
  withdrawTimelockSlots: bigint
}

/** Liveness and counters of a service version. */
export interface ServiceHeartbeat {
  lastHeartbeatSlot: bigint
  settledJobs: bigint
}

/** A service contract's state, decoded. */
export interface ServiceState {
  sourceCommitment: bigint
  descriptorCid: [bigint, bigint]
  terms: ServiceTerms
  runnerKeyHash: bigint
  workerKeyHash: bigint
  channelsRoot: bigint
  heartbeat: ServiceHeartbeat
}

/** Decodes the terms field: pricePerJob + withdrawTimelockSlots * 2^64. */
export function decodeTerms(field: bigint | string): ServiceTerms {
  const n = BigInt(field)
  return { pricePerJob: n & MASK_64, withdrawTimelockSlots: (n >> 64n) & MASK_32 }
}

/** Encodes terms the way the contract packs them. */
export function encodeTerms(t: ServiceTerms): bigint {
  return (t.pricePerJob & MASK_64) + ((t.withdrawTimelockSlots & MASK_32) << 64n)
}

/** Decodes the heartbeat field: lastHeartbeatSlot + settledJobs * 2^32. */
export function decodeHeartbeat(field: bigint | string): ServiceHeartbeat {
  const n = BigInt(field)
  return { lastHeartbeatSlot: n & MASK_32, settledJobs: (n >> 32n) & MASK_64 }
}

/** Decodes the 8 state fields (decimal strings from GraphQL, or bigints). */
export function decodeServiceState(zkappState: readonly (string | bigint)[]): ServiceState {
  if (zkappState.length !== 8) throw new RangeError('a service state has exactly 8 fields')
  const f = zkappState.map((x) => BigInt(x))
  return {
    sourceCommitment: f[0]!,
    descriptorCid: [f[1]!, f[2]!],
    terms: decodeTerms(f[3]!),
    runnerKeyHash: f[4]!,
    workerKeyHash: f[5]!,
    channelsRoot: f[6]!,
    heartbeat: decodeHeartbeat(f[7]!),
  }
}

/** The git commit SHA-1 (40 hex digits) of a sourceCommitment field. */
export function sourceCommitmentToSha1(field: bigint): string {
  return field.toString(16).padStart(40, '0')
}

/** Why a service refuses a new job, or null when it accepts one. */
export type ServiceRefusal = 'no-heartbeat' | 'stale-heartbeat' | 'insufficient-deposit'

/** Inputs of serviceRefusal: decoded state, chain clock and the user's funding. */
export interface ServiceStatusInput {
  heartbeat: ServiceHeartbeat
  terms: ServiceTerms
  /** Current global slot since genesis. */
  nowSlot: bigint
  /** The oldest heartbeat still counted as alive, in slots. */
  maxHeartbeatAgeSlots: bigint
  /** The user's receipt balance (cumulative deposit). */
  deposit: bigint
  /** The cumulative amount of the user's latest voucher (0 if none). */
  owed: bigint
}

/** Decides, cheaply and without o1js, whether a service can take one more job from a user. */
export function serviceRefusal(s: ServiceStatusInput): ServiceRefusal | null {
  if (s.heartbeat.lastHeartbeatSlot === 0n) return 'no-heartbeat'
  if (s.nowSlot > s.heartbeat.lastHeartbeatSlot + s.maxHeartbeatAgeSlots) return 'stale-heartbeat'
  if (s.owed + s.terms.pricePerJob > s.deposit) return 'insufficient-deposit'
  return null
}

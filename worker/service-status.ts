import {
  canonicalBytes,
  cidToFields,
  commitToField,
  decodeHeartbeat,
  decodeTerms,
  parseCid,
  type ServiceDescriptor,
  type ServiceDisabledReason,
  type ServiceHeartbeat,
  ServiceState,
  type ServiceTerms,
  serviceAvailability,
  sha256,
  type Voucher,
} from '../protocol/index.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import type { ChainReader } from './mina.ts'

/** The on-chain facts about one service the Worker decides on. */
export interface ServiceChainState {
  terms: ServiceTerms
  heartbeat: ServiceHeartbeat
  currentSlot: bigint
  state: bigint[]
}

/** Reads the service contract's state and the current slot; null when no zkApp lives at `address`. */
export async function readServiceChainState(
  chain: ChainReader,
  address: string,
): Promise<ServiceChainState | null> {
  const [state, currentSlot] = await Promise.all([chain.zkappState(address), chain.currentSlot()])
  if (state === null || state.length < 8) return null
  return {
    state,
    currentSlot,
    terms: decodeTerms(state[ServiceState.terms]!),
    heartbeat: decodeHeartbeat(state[ServiceState.heartbeat]!),
  }
}

const RAW_CODEC = 0x55

/**
 * Checks a registered descriptor against the frozen on-chain state: source commitment, descriptor
 * CID and price. When the CID is a raw-codec CID its digest must be the SHA-256 of the descriptor's
 * canonical JSON, which binds the descriptor's runner key to the chain.
 */
export function checkDescriptorAgainstChain(
  chainState: ServiceChainState,
  descriptor: ServiceDescriptor,
  descriptorCid: string,
): void {
  const mismatch = (what: string) =>
    new ApiError(409, ApiErrorCode.DESCRIPTOR_MISMATCH, `${what} differs from the service contract`)
  const { state } = chainState
  if (state[ServiceState.sourceCommitment] !== commitToField(descriptor.sourceCommitment)) {
    throw mismatch('sourceCommitment')
  }
  if (chainState.terms.pricePerJob !== BigInt(descriptor.pricePerJob)) throw mismatch('pricePerJob')
  const fields = cidToFields(descriptorCid)
  if (
    !fields.ok ||
    state[ServiceState.descriptorCid0] !== fields.value[0] ||
    state[ServiceState.descriptorCid1] !== fields.value[1]
  ) {
    throw mismatch('descriptorCid')
  }
  // Only a raw CID of the descriptor's canonical JSON ties these bytes, and so the runner key that
  // signed the registration, to the contract: under a dag-pb CID anyone could register the
  // service with a descriptor of their own (their runner key, project and webhook secret).
  const cid = parseCid(descriptorCid)
  if (!cid.ok || cid.value.code !== RAW_CODEC) {
    throw mismatch('descriptorCid (not the raw CID of the descriptor’s canonical JSON)')
  }
  const digest = sha256(canonicalBytes(descriptor))
  const claimed = cid.value.multihash.digest
  if (digest.length !== claimed.length || digest.some((b, i) => b !== claimed[i])) {
    throw mismatch('descriptor content (its CID)')
  }
}

/** A service's availability for one more job, with the figures behind it. */
export interface Availability {
  enabled: boolean
  reason?: ServiceDisabledReason
  pricePerJob: string
  lastHeartbeatSlot: string
  currentSlot: string
  maxHeartbeatAgeSlots: string
  settledJobs: string
  /** The user's deposit, what we record as owed, and the latest voucher they signed (the proof of it). */
  funding?: { deposit: string; owed: string; voucher: Voucher | null }
}

/** Decides availability (stale heartbeat, then funding for `owed` + one job) as the protocol defines it. */
export function availabilityOf(
  chainState: ServiceChainState,
  maxHeartbeatAgeSlots: bigint,
  funding?: { deposit: bigint; owed: bigint; voucher?: Voucher | null },
): Availability {
  const decision = serviceAvailability({
    heartbeat: chainState.heartbeat,
    terms: chainState.terms,
    currentSlot: chainState.currentSlot,
    maxHeartbeatAgeSlots,
    // Without a user, only liveness is judged: a deposit that covers anything passes.
    deposit: funding?.deposit ?? chainState.terms.pricePerJob,
    owed: funding?.owed ?? 0n,
  })
  return {
    enabled: decision.enabled,
    ...(decision.enabled ? {} : { reason: decision.reason }),
    pricePerJob: String(chainState.terms.pricePerJob),
    lastHeartbeatSlot: String(chainState.heartbeat.lastHeartbeatSlot),
    currentSlot: String(chainState.currentSlot),
    maxHeartbeatAgeSlots: String(maxHeartbeatAgeSlots),
    settledJobs: String(chainState.heartbeat.settledJobs),
    ...(funding
      ? {
          funding: {
            deposit: String(funding.deposit),
            owed: String(funding.owed),
            voucher: funding.voucher ?? null,
          },
        }
      : {}),
  }
}

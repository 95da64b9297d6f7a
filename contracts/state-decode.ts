// Pure decoders of a service contract's on-chain state. No o1js here on purpose: the Worker and
// the page read the state as decimal strings from GraphQL (`zkappState`). The layout and the
// packing are the protocol module's; the contract writes exactly that (state-decode.test.ts).
import {
  decodeHeartbeat,
  decodeTerms,
  encodeTerms,
  fieldToCommit,
  type ServiceHeartbeat,
  ServiceState as ServiceStateIndex,
  type ServiceTerms,
} from '../protocol/index.ts'

/** Index of each field in a service contract's app state (the protocol module's layout). */
export const SERVICE_STATE_INDEX = ServiceStateIndex
export { decodeHeartbeat, decodeTerms, encodeTerms, type ServiceHeartbeat, type ServiceTerms }

/** A service contract's state, decoded. */
export interface ServiceState {
  sourceCommitment: bigint
  descriptorCid: [bigint, bigint]
  terms: ServiceTerms
  runnerKeyHash: bigint
  workerKeyHash: bigint
  /** x of the service's ChannelLedger address (its key has an even y). */
  ledger: bigint
  heartbeat: ServiceHeartbeat
}

/** Fields of the layout; an account may hold more (o1js 3 accounts have 32), all zero beyond it. */
const LAYOUT_FIELDS = Object.keys(ServiceStateIndex).length

/** Decodes the service state fields (decimal strings from GraphQL, or bigints). */
export function decodeServiceState(zkappState: readonly (string | bigint)[]): ServiceState {
  if (zkappState.length < LAYOUT_FIELDS)
    throw new RangeError(`a service state has at least ${LAYOUT_FIELDS} fields`)
  const f = zkappState.map((x) => BigInt(x))
  return {
    sourceCommitment: f[ServiceStateIndex.sourceCommitment]!,
    descriptorCid: [f[ServiceStateIndex.descriptorCid0]!, f[ServiceStateIndex.descriptorCid1]!],
    terms: decodeTerms(f[ServiceStateIndex.terms]!),
    runnerKeyHash: f[ServiceStateIndex.runnerKeyHash]!,
    workerKeyHash: f[ServiceStateIndex.workerKeyHash]!,
    ledger: f[ServiceStateIndex.ledger]!,
    heartbeat: decodeHeartbeat(f[ServiceStateIndex.heartbeat]!),
  }
}

/** The git commit SHA-1 (40 hex digits) of a sourceCommitment field. */
export const sourceCommitmentToSha1 = fieldToCommit

import {
  canonicalBytes,
  checkGenuineService,
  cidToFields,
  decodeHeartbeat,
  decodeTerms,
  type GenuineVerdict,
  type HealthReason,
  holdsServiceState,
  type LedgerReading,
  ledgerPaid,
  type NotChargedReason,
  parseCid,
  type ServiceDescriptor,
  type ServiceDisabledReason,
  type ServiceHeartbeat,
  ServiceState,
  type ServiceTerms,
  ServiceUnavailable,
  type SolvencyVerdict,
  sameSourceCommitment,
  serviceAvailability,
  sha256,
  type Voucher,
} from '../protocol/index.ts'
import type { Config } from './config.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import type { ChainReader } from './mina.ts'

/** The on-chain facts about one service the Worker decides on. */
export interface ServiceChainState {
  terms: ServiceTerms
  heartbeat: ServiceHeartbeat
  currentSlot: bigint
  state: bigint[]
  /** Whether both accounts are the genuine, frozen contracts (protocol's check). */
  verdict: GenuineVerdict
  /** The service's ChannelLedger (the address its state froze), null when it names none. */
  ledger: string | null
  /** Jobs the ledger has paid the runner for: its runnerPaid / price (0 without a ledger). */
  settledJobs: bigint
  /** The credit token the escrow is held in (the configured one). */
  creditTokenId: string
}

/**
 * Reads both accounts of the service and the current slot, and judges them with the protocol's
 * genuine-and-frozen check; null when no zkApp lives at `address`. Fails closed (503) when the
 * Worker is not told what a genuine service is.
 */
export async function readServiceChainState(
  chain: ChainReader,
  address: string,
  genuine: Config['genuine'],
): Promise<ServiceChainState | null> {
  if (!genuine) {
    throw new ApiError(
      503,
      ApiErrorCode.NOT_CONFIGURED,
      'the Worker is not configured: GENUINE_SERVICE_CODE and CREDIT_TOKEN_ID are not set',
    )
  }
  const [accounts, currentSlot] = await Promise.all([
    chain.serviceAccounts(address, genuine.creditTokenId),
    chain.currentSlot(),
  ])
  const state = accounts.service?.zkappState
  if (!holdsServiceState(state)) return null
  const terms = decodeTerms(state[ServiceState.terms]!)
  return {
    state,
    currentSlot,
    terms,
    heartbeat: decodeHeartbeat(state[ServiceState.heartbeat]!),
    verdict: checkGenuineService(accounts, genuine.code),
    ledger: accounts.ledgerAddress,
    // Settlement lives in the ledger: what it paid the runner, in jobs at the frozen price.
    settledJobs: ledgerPaid(accounts.ledger?.zkappState, terms.pricePerJob).settledJobs,
    creditTokenId: genuine.creditTokenId,
  }
}

/**
 * What the ledger's book says `user` may owe in all (the cap of a voucher's cumulative amount,
 * the `deposit` of the availability rule): what was paid from their channel plus what they can
 * still fund (none while a withdrawal is pending: the runner might not settle new work before the
 * timelock ends), and the voucher nonce the ledger last settled (a voucher at or below it, or
 * below a completed withdrawal's close nonce, would be skipped as stale: never paid).
 */
export function userFunding(
  reading: LedgerReading,
  user: string,
): { deposit: bigint; settledNonce: bigint } {
  const channel = reading.book.get(user)
  return {
    deposit: channel.paidSoFar + reading.book.fundable(user),
    settledNonce: channel.voucherNonce,
  }
}

/** Reads the service's ledger book (fresh past the cache for an admission); 409 without a ledger. */
export function ledgerBookOf(
  chain: ChainReader,
  chainState: ServiceChainState,
  options: { fresh?: boolean } = {},
): Promise<LedgerReading> {
  if (!chainState.ledger) {
    throw new ApiError(409, ApiErrorCode.UNSAFE_SERVICE, 'the service names no ledger')
  }
  return chain.ledgerBook(chainState.ledger, chainState.terms, options)
}

/**
 * Throws 409 `unsafe_service` unless the service's ledger is solvent (protocol's solvency check:
 * its channels and counters rebuilt from its actions, its escrow covering what it owes), as
 * `verdictOf` judges it (the service object's kept readings: ledger-solvency-kept.ts). Call it
 * after `requireGenuine`: solvency is judged of the genuine contracts only.
 */
export async function requireSolvent(
  verdictOf: (ledger: string, creditTokenId: string) => Promise<SolvencyVerdict>,
  chainState: ServiceChainState,
): Promise<void> {
  if (!chainState.ledger) {
    throw new ApiError(409, ApiErrorCode.UNSAFE_SERVICE, 'the service names no ledger')
  }
  const verdict = await verdictOf(chainState.ledger, chainState.creditTokenId)
  if (!verdict.solvent) {
    throw new ApiError(
      409,
      ApiErrorCode.UNSAFE_SERVICE,
      `unsafe service (${verdict.code}): ${verdict.reason}`,
    )
  }
}

/** Throws 409 `unsafe_service` unless the service is a genuine, frozen zkrunner service. */
export function requireGenuine(chainState: ServiceChainState): void {
  if (!chainState.verdict.genuine) {
    const { code, reason } = chainState.verdict
    throw new ApiError(409, ApiErrorCode.UNSAFE_SERVICE, `unsafe service (${code}): ${reason}`)
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
  if (
    !sameSourceCommitment(descriptor.sourceCommitment, state[ServiceState.sourceCommitment] ?? -1n)
  ) {
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
  /** Set when the service is not a genuine, frozen zkrunner service: it takes no job. */
  unsafe?: { code: string; reason: string }
  /**
   * The user's deposit, what we record as owed, the latest voucher they signed (the proof of it),
   * and their newest jobs released as not charged: why `owed` may be below that voucher.
   */
  funding?: { deposit: string; owed: string; voucher: Voucher | null; released: ReleasedJob[] }
}

/** A job of the user's released as not charged by the payable rule: its price is not owed. */
export interface ReleasedJob {
  jobId: string
  /** The price the job's voucher had counted, now left out of what is owed. */
  amount: string
  reason: NotChargedReason
}

/** Released jobs a status lists at most, newest first (the page shows them; older ones add nothing). */
export const MAX_RELEASED_LISTED = 20

/**
 * Decides availability by the protocol's one rule (genuine, retired, heartbeat, health, then the
 * user's funding for `owed` + one job), with the figures behind it.
 */
export function availabilityOf(
  chainState: ServiceChainState,
  maxHeartbeatAgeSlots: bigint,
  funding?: {
    deposit: bigint
    owed: bigint
    voucher?: Voucher | null
    released?: readonly ReleasedJob[]
  },
  /** What the Worker knows of the version besides the chain: retired, and health-check findings. */
  service: {
    retired?: boolean
    health?: readonly HealthReason[]
    /** A sponsor's pool the job would be paid from (protocol's funding-exhausted rule). */
    pool?: { fundable: bigint; open: boolean }
  } = {},
): Availability {
  const { verdict } = chainState
  const decision = serviceAvailability({
    heartbeat: chainState.heartbeat,
    currentSlot: chainState.currentSlot,
    maxHeartbeatAgeSlots,
    genuine: verdict.genuine,
    retired: service.retired === true,
    ...(service.health ? { health: service.health } : {}),
    ...(service.pool
      ? { pool: { ...service.pool, pricePerJob: chainState.terms.pricePerJob } }
      : {}),
    // Without a user, only the service itself is judged.
    ...(funding
      ? {
          funding: {
            deposit: funding.deposit,
            owed: funding.owed,
            pricePerJob: chainState.terms.pricePerJob,
          },
        }
      : {}),
  })
  const figures = {
    pricePerJob: String(chainState.terms.pricePerJob),
    lastHeartbeatSlot: String(chainState.heartbeat.lastHeartbeatSlot),
    currentSlot: String(chainState.currentSlot),
    maxHeartbeatAgeSlots: String(maxHeartbeatAgeSlots),
    settledJobs: String(chainState.settledJobs),
  }
  if (!verdict.genuine) {
    return {
      enabled: false,
      reason: ServiceUnavailable.UNSAFE_SERVICE,
      unsafe: { code: verdict.code, reason: verdict.reason },
      ...figures,
    }
  }
  return {
    enabled: decision.enabled,
    ...(decision.enabled ? {} : { reason: decision.reason }),
    ...figures,
    ...(funding
      ? {
          funding: {
            deposit: String(funding.deposit),
            owed: String(funding.owed),
            voucher: funding.voucher ?? null,
            released: [...(funding.released ?? [])],
          },
        }
      : {}),
  }
}

/**
 * The 409 a request meets at a service the rule disables: `service_retired` for a retired
 * version (its operator offers a new one instead), `unsafe_service` for a look-alike,
 * `service_disabled` naming the reason otherwise.
 */
export function refusalOf(reason: ServiceDisabledReason): ApiError {
  if (reason === ServiceUnavailable.RETIRED) {
    return new ApiError(
      409,
      ApiErrorCode.SERVICE_RETIRED,
      'the service is disabled: retired by its operator (offer a new version instead)',
    )
  }
  return new ApiError(409, ApiErrorCode.SERVICE_DISABLED, `the service is disabled: ${reason}`)
}

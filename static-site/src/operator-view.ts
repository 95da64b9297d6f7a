import { ledgerPaid, serviceAvailability } from '../../protocol/index.ts'
import type { ServiceOnChain } from '../../verify/index.ts'
import type { WorkerServiceStatus, WorkerServiceSummary } from './worker-client.ts'

/** One of an operator's versions, as the "My services" view shows it. */
export interface OperatorVersion {
  service: string
  name: string | null
  /** `live`, `retired`, or `disabled` with the reason. */
  state: { kind: 'live' } | { kind: 'retired' } | { kind: 'disabled'; reason: string }
  /** Slots since the last heartbeat (null without a contract). */
  heartbeatAgeSlots: bigint | null
  /** Jobs the Worker admitted; charged (paid by a result) and pending (no result yet). */
  jobs: WorkerServiceSummary | null
  /**
   * Jobs settled on chain, and what they earned: the ledger's runnerPaid (what its batches paid
   * the runner), in jobs at the frozen price.
   */
  settledJobs: bigint | null
  earningsSettled: bigint | null
  /** Charged jobs not yet settled on chain. */
  awaitingSettlement: number | null
}

/**
 * Puts together one version's figures from the chain (state), the Worker (status, summary) and the
 * registry (retired). The chain is the authority for what was settled and earned; the Worker's
 * figures are what it admitted and charged, shown as its word.
 */
export function operatorVersion(input: {
  service: string
  name: string | null
  retiredInRegistry: boolean
  chain: ServiceOnChain | null
  /** The state of the service's ChannelLedger (its runnerPaid is what was settled), when read. */
  ledgerState: readonly bigint[] | null
  currentSlot: bigint
  /** The page's liveness threshold (its config, the Worker's default unless set). */
  maxHeartbeatAgeSlots: bigint
  status: WorkerServiceStatus | null
  summary: WorkerServiceSummary | null
}): OperatorVersion {
  const { chain, status, summary } = input
  const retired = input.retiredInRegistry || status?.retired === true
  // What the chain alone says, by the protocol's rule: a stale runner shows stale even when the
  // Worker does not answer.
  const local = chain
    ? serviceAvailability({
        heartbeat: chain.heartbeat,
        currentSlot: input.currentSlot,
        maxHeartbeatAgeSlots: input.maxHeartbeatAgeSlots,
        retired,
      })
    : null
  const state: OperatorVersion['state'] = retired
    ? { kind: 'retired' }
    : !local
      ? { kind: 'disabled', reason: 'no-contract' }
      : !local.enabled
        ? { kind: 'disabled', reason: local.reason }
        : !status
          ? { kind: 'disabled', reason: 'worker-unavailable' }
          : status.enabled
            ? { kind: 'live' }
            : { kind: 'disabled', reason: status.reason ?? 'unknown-service' }
  const paid = chain ? ledgerPaid(input.ledgerState, chain.terms.pricePerJob) : null
  const settledJobs = paid ? paid.settledJobs : null
  const awaiting =
    summary && settledJobs !== null ? summary.charged.jobs - Number(settledJobs) : null
  return {
    service: input.service,
    name: input.name,
    state,
    heartbeatAgeSlots: chain ? input.currentSlot - chain.heartbeat.lastHeartbeatSlot : null,
    jobs: summary,
    settledJobs,
    earningsSettled: paid ? paid.runnerPaid : null,
    awaitingSettlement: awaiting === null ? null : Math.max(0, awaiting),
  }
}

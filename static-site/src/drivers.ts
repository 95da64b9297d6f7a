// The facts the page reads of a candidate driver (a `service` parameter's value), for protocol's
// one driver rule (checkDriver). The Worker reads the same facts its own way and asks the same rule.
import {
  type DriverFacts,
  type ServiceDisabledReason,
  ServiceUnavailable,
  serviceAvailability,
} from '../../protocol/index.ts'
import { decodeServiceState } from '../../verify/index.ts'
import type { MarketService } from './views/services.ts'

const CODES: readonly string[] = Object.values(ServiceUnavailable)

/** The Worker's own reason a version takes no job, leaving out this user's deposit and "unknown". */
function workerReason(s: MarketService): ServiceDisabledReason | null {
  const reason = s.status && !s.status.enabled ? s.status.reason : undefined
  if (reason === undefined || !CODES.includes(reason)) return null
  if (reason === ServiceUnavailable.INSUFFICIENT_DEPOSIT) return null
  // Not registered is its own fact (`registered`), decided before availability.
  if (reason === ServiceUnavailable.UNKNOWN_SERVICE) return null
  return reason as ServiceDisabledReason
}

/**
 * A market row's facts: its chain state judged by the availability rule (the Worker's retirement
 * included), then the Worker's own verdict (its heartbeat age, health checks), but never this
 * user's funding (the outer runner pays a driver, not the user); registered when the registry
 * lists it (the market) and the Worker holds its registration; its descriptor as read from IPFS
 * against the CID on chain.
 */
export function marketDriverFacts(s: MarketService, maxHeartbeatAgeSlots: bigint): DriverFacts {
  if (!s.chain) return { availability: null, registered: false, descriptor: null }
  const local = serviceAvailability({
    heartbeat: s.chain.heartbeat,
    currentSlot: s.currentSlot,
    maxHeartbeatAgeSlots,
    genuine: s.unsafe === null,
    retired: s.status?.retired === true,
  })
  const reason = workerReason(s)
  return {
    availability: local.enabled && reason !== null ? { enabled: false, reason } : local,
    registered: s.status?.registered === true,
    descriptor: s.descriptor,
  }
}

/**
 * The facts of an address the market does not list: with a service contract's state it is not
 * a registered version (no listing), without one it is no service at all.
 */
export function unlistedDriverFacts(
  state: readonly bigint[] | null,
  currentSlot: bigint,
  maxHeartbeatAgeSlots: bigint,
): DriverFacts {
  if (state === null) return { availability: null, registered: false, descriptor: null }
  const { heartbeat } = decodeServiceState(state)
  return {
    availability: serviceAvailability({ heartbeat, currentSlot, maxHeartbeatAgeSlots }),
    registered: false,
    descriptor: null,
  }
}

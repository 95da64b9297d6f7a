// The one rule for whether a service version takes one more job. The Worker refuses requests by
// it, the page shows services as disabled by it, the agent's heartbeat duty reports by it: each
// gathers the facts it can see (the chain's state, the Worker's registration, a user's deposit)
// and asks here, so that a reason means the same everywhere.
import type { ServiceHeartbeat } from './chain-layout.ts'

/**
 * The stable codes of why a service takes no job right now, in the order the rule decides them
 * (the first that holds is the reason). They appear in the Worker's `reason` field, in its 409
 * messages and on the page; never rename one.
 */
export const ServiceUnavailable = {
  /** No service contract at the address, or not registered with the Worker. */
  UNKNOWN_SERVICE: 'unknown-service',
  /** Not a genuine, frozen zkrunner service (protocol's checkGenuineService). */
  UNSAFE_SERVICE: 'unsafe-service',
  /** Its operator retired the version: it takes no new job, ever. */
  RETIRED: 'retired',
  /** The runner never sent a heartbeat. */
  NO_HEARTBEAT: 'no-heartbeat',
  /** The runner's last heartbeat is older than the allowed age: the runner looks offline. */
  STALE_HEARTBEAT: 'stale-heartbeat',
  /** The CI provider refuses work for quota (e.g. GitLab's `ci_quota_exceeded`): a health check. */
  PROVIDER_QUOTA: 'provider-quota',
  /** The pool a sponsor funds the service from cannot pay one more job: a health check. */
  FUNDING_EXHAUSTED: 'funding-exhausted',
  /** This user's deposit does not cover what they owe plus one job at the frozen price. */
  INSUFFICIENT_DEPOSIT: 'insufficient-deposit',
} as const

/** Why a service takes no job right now (one of ServiceUnavailable). */
export type ServiceDisabledReason = (typeof ServiceUnavailable)[keyof typeof ServiceUnavailable]

/** Conditions health checks outside the chain establish (the provider's quota, a sponsor's pool). */
export type HealthReason =
  | typeof ServiceUnavailable.PROVIDER_QUOTA
  | typeof ServiceUnavailable.FUNDING_EXHAUSTED

/**
 * The oldest runner heartbeat, in slots, that still counts as alive unless a deployment says
 * otherwise: the Worker's `HEARTBEAT_MAX_AGE_SLOTS` default and the page's `maxHeartbeatAgeSlots`
 * default. 60 slots is 3 hours of 3-minute Mina slots.
 */
export const DEFAULT_MAX_HEARTBEAT_AGE_SLOTS = 60

/** What the rule decides on; each reader supplies what it can see. */
export interface AvailabilityFacts {
  heartbeat: ServiceHeartbeat
  /** The chain's current global slot. */
  currentSlot: bigint
  /** The oldest heartbeat still counted as alive, in slots. */
  maxHeartbeatAgeSlots: bigint
  /** False when the accounts are not the genuine, frozen service; left out when not judged. */
  genuine?: boolean
  /** True once the operator retired the version (the Worker's record or the registry's). */
  retired?: boolean
  /** Conditions health checks found, in any order. */
  health?: readonly HealthReason[]
  /**
   * One user's funding, with the version's frozen price (the chain's terms, never the
   * descriptor's); without it only the service itself is judged.
   */
  funding?: { deposit: bigint; owed: bigint; pricePerJob: bigint }
  /**
   * A sponsor's pool, when the job is to be paid from one: `fundable` is the pool channel's
   * (ledger-book.ts `fundable`, none while a withdrawal is pending) less what admitted, unsettled
   * jobs already owe it, and capped by what the sponsor authorised; `open` is false once the
   * sponsorship ended or its voucher bundle is spent.
   */
  pool?: { fundable: bigint; pricePerJob: bigint; open?: boolean }
}

/** True when a sponsor's pool cannot pay one more job: the `funding-exhausted` health check. */
export function poolExhausted(pool: NonNullable<AvailabilityFacts['pool']>): boolean {
  return pool.open === false || pool.fundable < pool.pricePerJob
}

/** The rule's answer. */
export type Availability = { enabled: true } | { enabled: false; reason: ServiceDisabledReason }

/**
 * Decides whether a service takes one more job. In order: a service that is not genuine, retired,
 * never heartbeated or whose heartbeat is older than `maxHeartbeatAgeSlots` takes none; then a
 * health check's finding (provider quota before an exhausted pool); then a sponsor's pool must
 * pay one more job at the frozen price (poolExhausted); then, for a user, their
 * deposit must cover what they owe plus one job at the frozen price.
 */
export function serviceAvailability(f: AvailabilityFacts): Availability {
  const off = (reason: ServiceDisabledReason): Availability => ({ enabled: false, reason })
  if (f.genuine === false) return off(ServiceUnavailable.UNSAFE_SERVICE)
  if (f.retired) return off(ServiceUnavailable.RETIRED)
  if (f.heartbeat.lastHeartbeatSlot === 0n) return off(ServiceUnavailable.NO_HEARTBEAT)
  if (f.currentSlot - f.heartbeat.lastHeartbeatSlot > f.maxHeartbeatAgeSlots) {
    return off(ServiceUnavailable.STALE_HEARTBEAT)
  }
  for (const reason of [ServiceUnavailable.PROVIDER_QUOTA, ServiceUnavailable.FUNDING_EXHAUSTED]) {
    if (f.health?.includes(reason)) return off(reason)
  }
  if (f.pool && poolExhausted(f.pool)) return off(ServiceUnavailable.FUNDING_EXHAUSTED)
  if (f.funding && f.funding.owed + f.funding.pricePerJob > f.funding.deposit) {
    return off(ServiceUnavailable.INSUFFICIENT_DEPOSIT)
  }
  return { enabled: true }
}

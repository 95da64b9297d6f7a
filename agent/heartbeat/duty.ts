import { Counter, Gauge, type Registry } from 'prom-client'
import { type ServiceDisabledReason, serviceAvailability } from '../../protocol/index.ts'

// The runner's standing duty: keep every version it runs alive on chain. A version whose heartbeat
// is older than the Worker's allowed age is refused to users, so the duty renews each one well
// before that age, reading the age from the Worker rather than assuming it.

/** What the duty reads and sends; the real ones come from the chain and the Worker, tests fake them. */
export interface HeartbeatWorld {
  /** The versions to keep alive (the runner's listed, unretired services). */
  services(): Promise<string[]>
  /** The Worker's view of one version: its allowed heartbeat age, and whether it is retired. */
  workerView(service: string): Promise<{ maxHeartbeatAgeSlots: bigint; retired: boolean }>
  /** The last heartbeat slot on chain and the current slot. */
  chainView(service: string): Promise<{ lastHeartbeatSlot: bigint; currentSlot: bigint }>
  /** Sends one heartbeat for `service` and waits for it to land. */
  send(service: string): Promise<void>
}

/** The youngest heartbeat the duty renews, in slots (a floor under half the allowed age). */
export const MIN_RENEW_AGE_SLOTS = 10n

/** What one round did for one version. */
export type HeartbeatAction =
  | {
      service: string
      action: 'sent' | 'fresh' | 'retired'
      ageSlots?: bigint
      /** Why users were refused before this renewal (protocol's rule), when they were. */
      lapsed?: ServiceDisabledReason
    }
  | { service: string; action: 'failed'; error: string }

/** Prometheus metrics of the duty: failures are counted per version, so an alert can name it. */
export class HeartbeatMetrics {
  readonly age: Gauge
  readonly sent: Counter
  readonly failures: Counter
  readonly lastRound: Gauge
  readonly lapsed: Gauge

  constructor(registry: Registry) {
    const registers = [registry]
    this.age = new Gauge({
      name: 'zkrunner_heartbeat_age_slots',
      help: 'Age of the version’s on-chain heartbeat when last checked',
      labelNames: ['service'],
      registers,
    })
    this.sent = new Counter({
      name: 'zkrunner_heartbeats_sent_total',
      help: 'Heartbeats that landed on chain',
      labelNames: ['service'],
      registers,
    })
    this.failures = new Counter({
      name: 'zkrunner_heartbeat_failures_total',
      help: 'Heartbeat checks or sends that failed (alert on a rising count)',
      labelNames: ['service'],
      registers,
    })
    this.lapsed = new Gauge({
      name: 'zkrunner_heartbeat_lapsed',
      help: '1 while users are refused for the version’s heartbeat (stale or never sent), by protocol’s rule',
      labelNames: ['service'],
      registers,
    })
    this.lastRound = new Gauge({
      name: 'zkrunner_heartbeat_last_round_timestamp_seconds',
      help: 'When the duty last finished a round',
      registers,
    })
  }
}

/**
 * One round: a version is renewed once its heartbeat has used half its allowed age, so one failed
 * or slow heartbeat still leaves the other half to retry in. Retired versions are left to lapse.
 * Returns what it did per version and the smallest allowed age it saw (to pace the next round).
 */
export async function heartbeatRound(
  world: HeartbeatWorld,
  log: (line: string) => void,
  metrics?: HeartbeatMetrics,
): Promise<{ actions: HeartbeatAction[]; minMaxAgeSlots: bigint | null }> {
  const actions: HeartbeatAction[] = []
  let minMaxAgeSlots: bigint | null = null
  for (const service of await world.services()) {
    try {
      const worker = await world.workerView(service)
      if (minMaxAgeSlots === null || worker.maxHeartbeatAgeSlots < minMaxAgeSlots) {
        minMaxAgeSlots = worker.maxHeartbeatAgeSlots
      }
      if (worker.retired) {
        actions.push({ service, action: 'retired' })
        continue
      }
      const chain = await world.chainView(service)
      const age = chain.currentSlot - chain.lastHeartbeatSlot
      metrics?.age.set({ service }, Number(age))
      // Never more often than every MIN_RENEW_AGE_SLOTS, whatever the Worker says: a Worker that
      // answered an allowed age of 0 would otherwise have the runner pay a heartbeat every slot.
      if (age * 2n < worker.maxHeartbeatAgeSlots || age < MIN_RENEW_AGE_SLOTS) {
        actions.push({ service, action: 'fresh', ageSlots: age })
        continue
      }
      // Whether users are already refused, by the same rule the Worker and the page apply.
      const now = serviceAvailability({
        heartbeat: { lastHeartbeatSlot: chain.lastHeartbeatSlot, settledJobs: 0n },
        currentSlot: chain.currentSlot,
        maxHeartbeatAgeSlots: worker.maxHeartbeatAgeSlots,
      })
      const lapsed = now.enabled ? undefined : now.reason
      metrics?.lapsed.set({ service }, lapsed ? 1 : 0)
      log(
        `heartbeat: ${service} is ${age} of ${worker.maxHeartbeatAgeSlots} slots old${lapsed ? ` (${lapsed}: users are refused until it lands)` : ''}; renewing`,
      )
      await world.send(service)
      metrics?.sent.inc({ service })
      metrics?.age.set({ service }, 0)
      metrics?.lapsed.set({ service }, 0)
      actions.push({ service, action: 'sent', ageSlots: age, ...(lapsed ? { lapsed } : {}) })
      log(`heartbeat: ${service} renewed`)
    } catch (e) {
      const error = String((e as Error).message ?? e).replace(/\s+/g, ' ')
      metrics?.failures.inc({ service })
      actions.push({ service, action: 'failed', error })
      log(`heartbeat: ${service} FAILED: ${error}`)
    }
  }
  metrics?.lastRound.set(Date.now() / 1000)
  return { actions, minMaxAgeSlots }
}

/**
 * The wait between rounds: a quarter of the smallest allowed age, so a version is checked at
 * least twice in the half of its age the duty leaves itself for retries.
 */
export function roundIntervalMs(minMaxAgeSlots: bigint | null, slotMs: number): number {
  if (minMaxAgeSlots === null) return 30_000
  const ms = (Number(minMaxAgeSlots) * slotMs) / 4
  return Math.max(1_000, Math.min(ms, 15 * 60_000))
}

/** Runs rounds until `signal` aborts; a failed round is logged and counted, never the end of the duty. */
export async function runHeartbeatDuty(
  world: HeartbeatWorld,
  options: {
    slotMs: number
    log: (line: string) => void
    metrics?: HeartbeatMetrics
    signal?: AbortSignal
  },
): Promise<void> {
  const { signal } = options
  while (!signal?.aborted) {
    let interval = 30_000
    try {
      const round = await heartbeatRound(world, options.log, options.metrics)
      interval = roundIntervalMs(round.minMaxAgeSlots, options.slotMs)
    } catch (e) {
      // The list of versions could not be read: no version was checked this round.
      options.metrics?.failures.inc({ service: 'all' })
      options.log(`heartbeat: round FAILED: ${String((e as Error).message ?? e)}`)
    }
    if (signal?.aborted) break
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval)
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        { once: true },
      )
    })
  }
}

import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { serveMetrics } from '../metrics/metrics.ts'
import {
  HeartbeatMetrics,
  type HeartbeatWorld,
  heartbeatRound,
  roundIntervalMs,
  runHeartbeatDuty,
} from './duty.ts'

// A small chain and Worker in memory: slots advance when the test says, a heartbeat records the
// current slot, and a send can be made to fail, as a node that refuses a transaction would.
function world(maxAge = 60n) {
  const chain = {
    slot: 1000n,
    heartbeats: new Map<string, bigint>([
      ['B62fresh', 1000n],
      ['B62stale', 900n],
      ['B62retired', 800n],
    ]),
    retired: new Set(['B62retired']),
    failSends: 0,
    sends: [] as string[],
  }
  const sent: ((service: string) => void)[] = []
  const w: HeartbeatWorld = {
    async services() {
      return [...chain.heartbeats.keys()]
    },
    async workerView(service) {
      return { maxHeartbeatAgeSlots: maxAge, retired: chain.retired.has(service) }
    },
    async chainView(service) {
      return { lastHeartbeatSlot: chain.heartbeats.get(service)!, currentSlot: chain.slot }
    },
    async send(service) {
      if (chain.failSends > 0) {
        chain.failSends--
        throw new Error('transaction rejected: Protocol_state_precondition_unsatisfied')
      }
      chain.heartbeats.set(service, chain.slot)
      chain.sends.push(service)
      for (const f of sent.splice(0)) f(service)
    },
  }
  const nextSend = () => new Promise<string>((resolve) => sent.push(resolve))
  return { chain, w, nextSend }
}

describe('heartbeat duty', () => {
  it('renews a stale heartbeat without operator action, and leaves fresh and retired ones', async () => {
    const { chain, w, nextSend } = world()
    const abort = new AbortController()
    const renewed = nextSend()
    const duty = runHeartbeatDuty(w, { slotMs: 1, log: () => {}, signal: abort.signal })
    expect(await renewed).toBe('B62stale')
    abort.abort()
    await duty
    expect(chain.heartbeats.get('B62stale')).toBe(chain.slot)
    expect(chain.sends).toEqual(['B62stale'])
    // Retired versions lapse: the duty does not keep them alive.
    expect(chain.heartbeats.get('B62retired')).toBe(800n)
  })

  it('says, by protocol’s availability rule, when users were already refused for a lapsed heartbeat', async () => {
    const { w } = world()
    const lines: string[] = []
    const { actions } = await heartbeatRound(w, (l) => lines.push(l))
    // 100 slots old with 60 allowed: the Worker refuses it as stale until the renewal lands.
    expect(actions.find((a) => a.service === 'B62stale')).toMatchObject({
      action: 'sent',
      lapsed: 'stale-heartbeat',
    })
    expect(lines.join('\n')).toContain('stale-heartbeat: users are refused')
    const { w: half, chain } = world(200n)
    chain.heartbeats = new Map([['B62half', 900n]])
    expect((await heartbeatRound(half, () => {})).actions[0]).not.toHaveProperty('lapsed')
  })

  it('renews at half the Worker’s allowed age, read from the Worker', async () => {
    const { chain, w } = world(200n)
    // 100 slots old is half of 200: renewed; with an allowed age of 201 it would not be.
    chain.heartbeats = new Map([['B62half', 900n]])
    const { actions } = await heartbeatRound(w, () => {})
    expect(actions).toEqual([{ service: 'B62half', action: 'sent', ageSlots: 100n }])
    const { w: patient, chain: c2 } = world(201n)
    c2.heartbeats = new Map([['B62half', 900n]])
    expect((await heartbeatRound(patient, () => {})).actions[0]).toMatchObject({ action: 'fresh' })
    // A Worker answering an allowed age of 0 does not make the runner pay a heartbeat each slot.
    const { w: greedy, chain: c3 } = world(0n)
    c3.heartbeats = new Map([['B62young', 995n]])
    expect((await heartbeatRound(greedy, () => {})).actions[0]).toMatchObject({ action: 'fresh' })
    // The pace follows the allowed age too: a quarter of it.
    expect(roundIntervalMs(200n, 3000)).toBe(150_000)
    expect(roundIntervalMs(2000n, 3000)).toBe(900_000)
  })

  it('counts a failed heartbeat in /metrics and in the log, and retries it next round', async () => {
    const { chain, w } = world()
    chain.failSends = 1
    const registry = new Registry()
    const metrics = new HeartbeatMetrics(registry)
    const lines: string[] = []
    const first = await heartbeatRound(w, (l) => lines.push(l), metrics)
    expect(first.actions.find((a) => a.service === 'B62stale')).toMatchObject({ action: 'failed' })
    expect(lines.some((l) => l.includes('B62stale FAILED'))).toBe(true)
    const server = await serveMetrics(registry, '127.0.0.1:0')
    try {
      const address = server!.address() as { port: number }
      const text = await (await fetch(`http://127.0.0.1:${address.port}/metrics`)).text()
      expect(text).toContain('zkrunner_heartbeat_failures_total{service="B62stale"} 1')
      expect(text).toContain('zkrunner_heartbeat_age_slots{service="B62stale"} 100')
    } finally {
      server?.close()
    }
    const second = await heartbeatRound(w, () => {}, metrics)
    expect(second.actions.find((a) => a.service === 'B62stale')).toMatchObject({ action: 'sent' })
    expect(chain.heartbeats.get('B62stale')).toBe(chain.slot)
  })
})

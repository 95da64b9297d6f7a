import { describe, expect, it } from 'vitest'
import { encodeHeartbeat } from '../../protocol/index.ts'
import type { ServiceOnChain } from '../../verify/index.ts'
import { marketDriverFacts, unlistedDriverFacts } from './drivers.ts'
import type { MarketService } from './views/services.ts'
import type { WorkerServiceStatus } from './worker-client.ts'

const chain: ServiceOnChain = {
  sourceCommitment: 'a'.repeat(40),
  descriptorCid: null,
  terms: { pricePerJob: 10n, withdrawTimelockSlots: 100n },
  heartbeat: { lastHeartbeatSlot: 990n, settledJobs: 0n },
  runnerKeyHash: 0n,
  workerKeyHash: 0n,
}
const status = (over: Partial<WorkerServiceStatus>): WorkerServiceStatus => ({
  service: 'B62s',
  enabled: true,
  registered: true,
  descriptor: null,
  descriptorCid: null,
  chain: null,
  ...over,
})
const row = (over: Partial<MarketService>): MarketService => ({
  address: 'B62s',
  operator: 'B62o',
  chain,
  settledJobs: null,
  runnerPaid: null,
  reveal: null,
  descriptor: null,
  status: status({}),
  currentSlot: 1000n,
  listedAt: 1,
  disabledReason: null,
  unsafe: null,
  ...over,
})

describe('the page’s facts of a driver', () => {
  it('a live, registered version is available; no contract is no availability at all', () => {
    expect(marketDriverFacts(row({}), 60n)).toMatchObject({
      availability: { enabled: true },
      registered: true,
    })
    expect(marketDriverFacts(row({ chain: null }), 60n)).toEqual({
      availability: null,
      registered: false,
      descriptor: null,
    })
  })

  it('never judges a driver by this user’s deposit: the outer runner pays it', () => {
    const poor = status({ enabled: false, reason: 'insufficient-deposit' })
    expect(marketDriverFacts(row({ status: poor }), 60n).availability).toEqual({ enabled: true })
  })

  it('takes the Worker’s own verdict (its heartbeat age, health) and its retirement', () => {
    const stale = status({ enabled: false, reason: 'stale-heartbeat' })
    expect(marketDriverFacts(row({ status: stale }), 60n).availability).toEqual({
      enabled: false,
      reason: 'stale-heartbeat',
    })
    const retired = status({ enabled: false, reason: 'retired', retired: true })
    expect(marketDriverFacts(row({ status: retired }), 60n).availability).toEqual({
      enabled: false,
      reason: 'retired',
    })
    // A reason the protocol does not know is not taken on the Worker's word.
    const odd = status({ enabled: false, reason: 'because' })
    expect(marketDriverFacts(row({ status: odd }), 60n).availability).toEqual({ enabled: true })
  })

  it('is not registered unless the Worker holds its registration (or the Worker did not answer)', () => {
    const unknown = status({ enabled: false, reason: 'unknown-service', registered: false })
    expect(marketDriverFacts(row({ status: unknown }), 60n).registered).toBe(false)
    expect(marketDriverFacts(row({ status: null }), 60n).registered).toBe(false)
  })

  it('an unlisted address: not registered with a contract, nothing without one', () => {
    const state = [
      0n,
      0n,
      0n,
      0n,
      0n,
      0n,
      0n,
      encodeHeartbeat({ lastHeartbeatSlot: 990n, settledJobs: 0n }),
    ]
    expect(unlistedDriverFacts(state, 1000n, 60n)).toEqual({
      availability: { enabled: true },
      registered: false,
      descriptor: null,
    })
    expect(unlistedDriverFacts(null, 1000n, 60n).availability).toBeNull()
  })
})

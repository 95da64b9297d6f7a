import { describe, expect, it } from 'vitest'
import type { ServiceOnChain } from '../../verify/index.ts'
import { operatorVersion } from './operator-view.ts'
import type { WorkerServiceStatus } from './worker-client.ts'

const chain = (lastHeartbeatSlot: bigint, settledJobs: bigint): ServiceOnChain => ({
  sourceCommitment: 'a'.repeat(40),
  descriptorCid: null,
  terms: { pricePerJob: 10n, withdrawTimelockSlots: 100n },
  heartbeat: { lastHeartbeatSlot, settledJobs },
  runnerKeyHash: 0n,
  workerKeyHash: 0n,
})
const status = (over: Partial<WorkerServiceStatus>): WorkerServiceStatus => ({
  service: 'B62s',
  enabled: true,
  registered: true,
  descriptor: null,
  descriptorCid: null,
  chain: null,
  ...over,
})
const summary = {
  jobs: 3,
  charged: { jobs: 2, amount: '20' },
  pending: { jobs: 1, amount: '10' },
  notCharged: 0,
}

describe('operatorVersion', () => {
  it('shows a live version with its jobs, settled earnings and what awaits settlement', () => {
    // The ledger paid the runner 10 (one job at 10); the heartbeat's own figure is not read.
    const ledgerState = [0n, 0n, 0n, 0n, 0n, 10n, 0n, 0n]
    const v = operatorVersion({
      service: 'B62s',
      name: 'primes',
      retiredInRegistry: false,
      chain: chain(990n, 7n),
      ledgerState,
      currentSlot: 1000n,
      maxHeartbeatAgeSlots: 60n,
      status: status({}),
      summary,
    })
    expect(v).toMatchObject({
      state: { kind: 'live' },
      heartbeatAgeSlots: 10n,
      settledJobs: 1n,
      earningsSettled: 10n,
      awaitingSettlement: 1,
      jobs: summary,
    })
    // No ledger state read: nothing counts as settled.
    expect(
      operatorVersion({
        service: 'B62s',
        name: 'primes',
        retiredInRegistry: false,
        chain: chain(990n, 7n),
        ledgerState: null,
        currentSlot: 1000n,
        maxHeartbeatAgeSlots: 60n,
        status: status({}),
        summary,
      }),
    ).toMatchObject({ settledJobs: 0n, earningsSettled: 0n, awaitingSettlement: 2 })
  })

  it('says why a version is disabled, and that a retired one is retired', () => {
    const base = {
      service: 'B62s',
      name: null,
      chain: chain(990n, 0n),
      ledgerState: null,
      currentSlot: 1000n,
      maxHeartbeatAgeSlots: 60n,
      summary: null,
    }
    expect(
      operatorVersion({
        ...base,
        retiredInRegistry: false,
        status: status({ enabled: false, reason: 'provider-quota' }),
      }).state,
    ).toEqual({ kind: 'disabled', reason: 'provider-quota' })
    expect(operatorVersion({ ...base, retiredInRegistry: true, status: status({}) }).state).toEqual(
      { kind: 'retired' },
    )
    expect(
      operatorVersion({ ...base, retiredInRegistry: false, status: status({ retired: true }) })
        .state,
    ).toEqual({ kind: 'retired' })
    expect(operatorVersion({ ...base, retiredInRegistry: false, status: null }).state).toEqual({
      kind: 'disabled',
      reason: 'worker-unavailable',
    })
  })

  it('judges the heartbeat from the chain by the protocol rule, even when the Worker says live or is silent', () => {
    const base = {
      service: 'B62s',
      name: null,
      retiredInRegistry: false,
      ledgerState: null,
      currentSlot: 1000n,
      maxHeartbeatAgeSlots: 60n,
      summary: null,
    }
    const stale = { kind: 'disabled', reason: 'stale-heartbeat' }
    expect(operatorVersion({ ...base, chain: chain(939n, 0n), status: status({}) }).state).toEqual(
      stale,
    )
    expect(operatorVersion({ ...base, chain: chain(939n, 0n), status: null }).state).toEqual(stale)
    expect(operatorVersion({ ...base, chain: chain(940n, 0n), status: status({}) }).state).toEqual({
      kind: 'live',
    })
    expect(operatorVersion({ ...base, chain: chain(0n, 0n), status: status({}) }).state).toEqual({
      kind: 'disabled',
      reason: 'no-heartbeat',
    })
  })
})

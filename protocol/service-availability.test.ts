import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  type AvailabilityFacts,
  type HealthReason,
  ServiceUnavailable,
  serviceAvailability,
} from './service-availability.ts'

const base: AvailabilityFacts = {
  heartbeat: { lastHeartbeatSlot: 100n, settledJobs: 0n },
  currentSlot: 105n,
  maxHeartbeatAgeSlots: 10n,
}
const off = (reason: string) => ({ enabled: false, reason })

describe('serviceAvailability, the one rule', () => {
  test('enabled while the heartbeat is fresh; without a user only the service is judged', () => {
    expect(serviceAvailability(base)).toEqual({ enabled: true })
    expect(serviceAvailability({ ...base, genuine: true, retired: false, health: [] })).toEqual({
      enabled: true,
    })
  })

  test('the heartbeat may be exactly the allowed age, not one slot more; never sent is its own reason', () => {
    expect(serviceAvailability({ ...base, currentSlot: 110n })).toEqual({ enabled: true })
    expect(serviceAvailability({ ...base, currentSlot: 111n })).toEqual(off('stale-heartbeat'))
    expect(
      serviceAvailability({
        ...base,
        heartbeat: { lastHeartbeatSlot: 0n, settledJobs: 0n },
        currentSlot: 1n,
      }),
    ).toEqual(off('no-heartbeat'))
  })

  test('a user is refused when their deposit does not cover what they owe plus one job', () => {
    expect(
      serviceAvailability({ ...base, funding: { deposit: 30n, owed: 20n, pricePerJob: 10n } }),
    ).toEqual({
      enabled: true,
    })
    expect(
      serviceAvailability({ ...base, funding: { deposit: 30n, owed: 21n, pricePerJob: 10n } }),
    ).toEqual(off('insufficient-deposit'))
  })

  test('health checks switch a live service off: provider quota, an exhausted sponsor pool', () => {
    expect(serviceAvailability({ ...base, health: ['funding-exhausted'] })).toEqual(
      off('funding-exhausted'),
    )
    expect(
      serviceAvailability({ ...base, health: ['funding-exhausted', 'provider-quota'] }),
    ).toEqual(off('provider-quota'))
  })

  test('reasons come in one order: unsafe, retired, no/stale heartbeat, health, then the deposit', () => {
    const everything: AvailabilityFacts = {
      ...base,
      heartbeat: { lastHeartbeatSlot: 0n, settledJobs: 0n },
      currentSlot: 1000n,
      genuine: false,
      retired: true,
      health: ['provider-quota', 'funding-exhausted'],
      funding: { deposit: 0n, owed: 0n, pricePerJob: 10n },
    }
    expect(serviceAvailability(everything)).toEqual(off('unsafe-service'))
    expect(serviceAvailability({ ...everything, genuine: true })).toEqual(off('retired'))
    expect(serviceAvailability({ ...everything, genuine: true, retired: false })).toEqual(
      off('no-heartbeat'),
    )
    const beating = { lastHeartbeatSlot: 900n, settledJobs: 0n }
    expect(
      serviceAvailability({ ...everything, genuine: true, retired: false, heartbeat: beating }),
    ).toEqual(off('stale-heartbeat'))
    const fresh = { lastHeartbeatSlot: 995n, settledJobs: 0n }
    const alive = { ...everything, genuine: true, retired: false, heartbeat: fresh }
    expect(serviceAvailability(alive)).toEqual(off('provider-quota'))
    expect(serviceAvailability({ ...alive, health: [] })).toEqual(off('insufficient-deposit'))
  })

  test('every reason it gives is a stable code of ServiceUnavailable, and it is enabled only when no fact refuses', () => {
    const codes = new Set<string>(Object.values(ServiceUnavailable))
    const health = fc.subarray<HealthReason>(['provider-quota', 'funding-exhausted'])
    fc.assert(
      fc.property(
        fc.bigInt(0n, 2000n),
        fc.bigInt(0n, 2000n),
        fc.bigInt(0n, 100n),
        fc.boolean(),
        fc.boolean(),
        health,
        fc.option(
          fc.record({
            deposit: fc.bigInt(0n, 100n),
            owed: fc.bigInt(0n, 100n),
            pricePerJob: fc.bigInt(0n, 20n),
          }),
        ),
        (last, now, maxAge, genuine, retired, found, funding) => {
          const facts: AvailabilityFacts = {
            ...base,
            heartbeat: { lastHeartbeatSlot: last, settledJobs: 0n },
            currentSlot: now,
            maxHeartbeatAgeSlots: maxAge,
            genuine,
            retired,
            health: found,
            ...(funding ? { funding } : {}),
          }
          const a = serviceAvailability(facts)
          const refused =
            !genuine ||
            retired ||
            last === 0n ||
            now - last > maxAge ||
            found.length > 0 ||
            (funding !== null && funding.owed + funding.pricePerJob > funding.deposit)
          expect(a.enabled).toBe(!refused)
          if (!a.enabled) expect(codes.has(a.reason)).toBe(true)
        },
      ),
    )
  })
})

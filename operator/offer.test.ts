import { describe, expect, it } from 'vitest'
import { type OfferSteps, offer } from './offer.ts'

// A fake world with the one property that matters: what is done stays done (a chain, a Worker,
// an IPFS store); each step can be made to fail once, as a crash or a network error would.

const STEPS = ['pin', 'deploy', 'heartbeat', 'register'] as const
type Step = (typeof STEPS)[number]

function world() {
  const state = {
    pinned: false,
    contracts: [] as string[],
    published: false,
    heartbeats: 0,
    registrations: [] as { service: string; cid: string }[],
    failNext: undefined as Step | 'publish' | undefined,
  }
  const maybeFail = (step: Step | 'publish') => {
    if (state.failNext === step) {
      state.failNext = undefined
      throw new Error(`${step} failed`)
    }
  }
  const steps: OfferSteps = {
    async pin() {
      maybeFail('pin')
      state.pinned = true
      return 'bafkreicid'
    },
    async deployed() {
      return state.published ? state.contracts[0] : undefined
    },
    // Like `deploy service`: a contract already on chain is not deployed again, only published.
    async deploy() {
      maybeFail('deploy')
      if (state.contracts.length === 0) state.contracts.push(`B62service${state.contracts.length}`)
      maybeFail('publish')
      state.published = true
      return state.contracts[0]!
    },
    async heartbeat() {
      maybeFail('heartbeat')
      state.heartbeats++
    },
    async registered(service, cid) {
      return state.registrations.some((r) => r.service === service && r.cid === cid)
    },
    async register(service, cid) {
      maybeFail('register')
      state.registrations.push({ service, cid })
    },
  }
  return { state, steps }
}

describe('offer', () => {
  it('runs every step once on a fresh start', async () => {
    const { state, steps } = world()
    const out = await offer(steps, () => {})
    expect(out).toEqual({
      cid: 'bafkreicid',
      service: 'B62service0',
      performed: ['pin', 'deploy', 'heartbeat', 'register'],
    })
    expect(state.contracts).toHaveLength(1)
    expect(state.registrations).toHaveLength(1)
  })

  it.each([...STEPS, 'publish'] as const)(
    'interrupted at %s, then re-run, ends in one deployed, registered, live version',
    async (step) => {
      const { state, steps } = world()
      state.failNext = step
      await expect(offer(steps, () => {})).rejects.toThrow(`${step} failed`)
      const out = await offer(steps, () => {})
      expect(state.contracts).toEqual(['B62service0'])
      expect(state.published).toBe(true)
      expect(state.registrations).toEqual([{ service: 'B62service0', cid: 'bafkreicid' }])
      expect(state.heartbeats).toBeGreaterThanOrEqual(1)
      expect(out.service).toBe('B62service0')
    },
  )

  it('re-run when everything is done deploys and registers nothing', async () => {
    const { state, steps } = world()
    await offer(steps, () => {})
    const again = await offer(steps, () => {})
    expect(again.performed).toEqual(['pin', 'heartbeat'])
    expect(state.contracts).toHaveLength(1)
    expect(state.registrations).toHaveLength(1)
  })
})

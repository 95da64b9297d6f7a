import { describe, expect, it } from 'vitest'
import { type RetireSteps, retire } from './retire.ts'

// A fake Worker and registry where what is done stays done; a step can be made to fail once.
function world() {
  const state = {
    workerRetired: false,
    registryRetirements: 0,
    failNext: undefined as 'worker' | 'registry' | undefined,
  }
  const maybeFail = (step: 'worker' | 'registry') => {
    if (state.failNext === step) {
      state.failNext = undefined
      throw new Error(`${step} failed`)
    }
  }
  const steps: RetireSteps = {
    async retiredAtWorker() {
      return state.workerRetired
    },
    async retireAtWorker() {
      maybeFail('worker')
      state.workerRetired = true
    },
    async retiredInRegistry() {
      return state.registryRetirements > 0
    },
    async retireInRegistry() {
      maybeFail('registry')
      state.registryRetirements++
    },
  }
  return { state, steps }
}

describe('retire', () => {
  it('retires at the Worker, then in the registry, once', async () => {
    const { state, steps } = world()
    const out = await retire('B62service', steps, () => {})
    expect(out.performed).toEqual(['worker', 'registry'])
    expect(state).toMatchObject({ workerRetired: true, registryRetirements: 1 })
    // Re-running does nothing more.
    expect((await retire('B62service', steps, () => {})).performed).toEqual([])
    expect(state.registryRetirements).toBe(1)
  })

  for (const step of ['worker', 'registry'] as const) {
    it(`interrupted at the ${step} step, a re-run ends retired everywhere with one transaction`, async () => {
      const { state, steps } = world()
      state.failNext = step
      await expect(retire('B62service', steps, () => {})).rejects.toThrow(`${step} failed`)
      await retire('B62service', steps, () => {})
      expect(state).toMatchObject({ workerRetired: true, registryRetirements: 1 })
    })
  }
})

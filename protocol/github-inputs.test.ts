import { describe, expect, it } from 'vitest'
import { variablesOfDispatchEvent } from './github-inputs.ts'

const jobId = '0123456789abcdef0123456789abcdef'

describe('GitHub dispatch event', () => {
  it('gives the ZKRUNNER_* inputs, not the parameters', () => {
    const inputs = {
      ZKRUNNER_JOB_ID: jobId,
      ZKRUNNER_PARAMETERS: '{"LIMIT":"10"}',
      LIMIT: '10',
    }
    const back = variablesOfDispatchEvent(JSON.stringify({ inputs, ref: 'refs/heads/main' }))
    // Parameters are checked against the step's own environment, not taken from the event.
    expect(back).toEqual({
      ok: true,
      value: { ZKRUNNER_JOB_ID: jobId, ZKRUNNER_PARAMETERS: '{"LIMIT":"10"}' },
    })
  })

  it('refuses an event file that is not JSON or has non-string inputs', () => {
    expect(variablesOfDispatchEvent('{').ok).toBe(false)
    expect(variablesOfDispatchEvent(JSON.stringify({ inputs: { ZKRUNNER_JOB_ID: 1 } })).ok).toBe(
      false,
    )
    expect(variablesOfDispatchEvent(JSON.stringify({ inputs: null }))).toEqual({
      ok: true,
      value: {},
    })
  })
})

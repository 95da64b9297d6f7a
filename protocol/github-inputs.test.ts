import { describe, expect, it } from 'vitest'
import {
  githubInputsOf,
  githubRunName,
  jobIdOfRunTitle,
  variablesOfDispatchEvent,
} from './github-inputs.ts'

const jobId = '0123456789abcdef0123456789abcdef'

describe('GitHub dispatch inputs', () => {
  it('round-trips the ZKRUNNER_* variables through inputs and the event file', () => {
    const variables = {
      ZKRUNNER_JOB_ID: jobId,
      ZKRUNNER_SERVICE: 'B62q…',
      ZKRUNNER_PARAMETERS: '{"LIMIT":"10"}',
      LIMIT: '10',
    }
    const inputs = githubInputsOf(variables)
    expect(inputs).toEqual({
      zk_job_id: jobId,
      zk_service: 'B62q…',
      zk_parameters: '{"LIMIT":"10"}',
      LIMIT: '10',
    })
    const back = variablesOfDispatchEvent(JSON.stringify({ inputs, ref: 'refs/heads/main' }))
    // Parameters are checked against the step's own environment, not taken from the event.
    expect(back).toEqual({
      ok: true,
      value: {
        ZKRUNNER_JOB_ID: jobId,
        ZKRUNNER_SERVICE: 'B62q…',
        ZKRUNNER_PARAMETERS: '{"LIMIT":"10"}',
      },
    })
  })

  it('refuses an event file that is not JSON or has non-string inputs', () => {
    expect(variablesOfDispatchEvent('{').ok).toBe(false)
    expect(variablesOfDispatchEvent(JSON.stringify({ inputs: { zk_job_id: 1 } })).ok).toBe(false)
    expect(variablesOfDispatchEvent(JSON.stringify({ inputs: null }))).toEqual({
      ok: true,
      value: {},
    })
  })

  it('finds the job id in a run title only as a whole word', () => {
    expect(jobIdOfRunTitle(githubRunName(jobId))).toBe(jobId)
    expect(jobIdOfRunTitle(`zkrunner ${jobId}0`)).toBeNull()
    expect(jobIdOfRunTitle(`xzkrunner ${jobId}`)).toBeNull()
    expect(jobIdOfRunTitle('CI on main')).toBeNull()
  })
})

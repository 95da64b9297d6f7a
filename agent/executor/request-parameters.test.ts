import { describe, expect, it } from 'vitest'
import { requestParameters } from './request-parameters.ts'

const vars = (m: Record<string, string>) => (name: string) => m[name]

describe('the parameters the manifest binds to', () => {
  it('are the Worker-passed values, each equal to what the job sees', () => {
    expect(
      requestParameters(
        vars({
          ZKRUNNER_PARAMETERS: '{"RUNS":"3","TARGET":"release"}',
          RUNS: '3',
          TARGET: 'release',
        }),
      ),
    ).toEqual({ RUNS: '3', TARGET: 'release' })
    expect(requestParameters(vars({}))).toEqual({})
  })

  it('refuse a value the job does not really run with', () => {
    expect(() =>
      requestParameters(vars({ ZKRUNNER_PARAMETERS: '{"RUNS":"3"}', RUNS: '30' })),
    ).toThrow(/RUNS/)
  })

  it('refuse malformed JSON and non-string values', () => {
    expect(() => requestParameters(vars({ ZKRUNNER_PARAMETERS: '{' }))).toThrow(/JSON/)
    expect(() =>
      requestParameters(vars({ ZKRUNNER_PARAMETERS: '{"RUNS":3}', RUNS: '3' })),
    ).toThrow()
  })
})

import { describe, expect, test } from 'vitest'
import {
  type ParameterSpec,
  ParameterSpecSchema,
  ParameterValuesSchema,
  validateParameters,
} from './parameters.ts'
import { parseWith } from './parse.ts'

const specs: ParameterSpec[] = [
  { name: 'LIMIT', type: 'integer', required: true, min: 1, max: 1000 },
  { name: 'OPT', type: 'enum', required: false, values: ['O0', 'O2'], default: 'O2' },
  { name: 'VERBOSE', type: 'boolean', required: false },
  {
    name: 'LABEL',
    type: 'string',
    required: false,
    maxLength: 8,
    minLength: 2,
    pattern: '[a-z-]+',
  },
]

describe('validateParameters', () => {
  test('valid values become CI variable strings, defaults filled in', () => {
    expect(validateParameters(specs, { LIMIT: 10, VERBOSE: true, LABEL: 'ab-c' })).toEqual({
      ok: true,
      value: { LIMIT: '10', OPT: 'O2', VERBOSE: 'true', LABEL: 'ab-c' },
    })
  })

  test.each([
    [{}, 'LIMIT', 'required'],
    [{ LIMIT: 0 }, 'LIMIT', 'at least 1'],
    [{ LIMIT: 1001 }, 'LIMIT', 'at most 1000'],
    [{ LIMIT: 1.5 }, 'LIMIT', 'must be an integer'],
    [{ LIMIT: '5' }, 'LIMIT', 'must be an integer'],
    [{ LIMIT: 5, OPT: 'O3' }, 'OPT', 'must be one of O0, O2'],
    [{ LIMIT: 5, VERBOSE: 'yes' }, 'VERBOSE', 'must be true or false'],
    [{ LIMIT: 5, LABEL: 'UPPER' }, 'LABEL', 'must match [a-z-]+'],
    [{ LIMIT: 5, LABEL: 'a' }, 'LABEL', 'at least 2 characters'],
    [{ LIMIT: 5, LABEL: 'abcdefghij' }, 'LABEL', 'at most 8 characters'],
    [{ LIMIT: 5, LABEL: 'ok\nEVIL' }, 'LABEL', 'must not hold control characters'],
    [{ LIMIT: 5, OTHER: 'x' }, 'OTHER', 'not a parameter of this service'],
  ])('%j is refused at %s', (values, name, message) => {
    const r = validateParameters(specs, values)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.error.code).toBe('INVALID_PARAMETER')
    expect(r.error.path).toEqual(['parameters', name])
    expect(r.error.message).toContain(message)
  })

  test('a spec with an invalid pattern or a bad name is refused when the descriptor is parsed', () => {
    const badPattern = parseWith(ParameterSpecSchema, { name: 'X', type: 'string', pattern: '(' })
    expect(!badPattern.ok && badPattern.error.path).toEqual(['pattern'])
    const badName = parseWith(ParameterSpecSchema, { name: '1X', type: 'boolean' })
    expect(!badName.ok && badName.error.path).toEqual(['name'])
  })
})

describe('reserved names and control characters', () => {
  test.each([
    'CI_JOB_TOKEN',
    'GIT_STRATEGY',
    'GITLAB_USER',
    'FF_USE_FASTZIP',
    'GITHUB_SHA',
    'RUNNER_TEMP',
    'ACTIONS_RUNTIME_TOKEN',
    'ZKRUNNER_JOB_ID',
    'ci_debug_trace',
  ])('%s is refused as a descriptor name and as a request name', (name) => {
    expect(ParameterSpecSchema.safeParse({ name, type: 'boolean' }).success).toBe(false)
    const checked = validateParameters(specs, { LIMIT: 5, [name]: 'x' })
    expect(checked.ok).toBe(false)
    expect(parseWith(ParameterValuesSchema, { [name]: 'x' }).ok).toBe(false)
  })

  test.each(['a\nb', 'a\rb', 'a\tb', 'a\u001bb', 'a\u0085b', 'a\u0000b'])(
    'a control character in %j is refused',
    (value) => {
      expect(parseWith(ParameterValuesSchema, { LABEL: value }).ok).toBe(false)
      const free: ParameterSpec[] = [
        { name: 'LABEL', type: 'string', required: true, maxLength: 9 },
      ]
      expect(validateParameters(free, { LABEL: value }).ok).toBe(false)
    },
  )
})

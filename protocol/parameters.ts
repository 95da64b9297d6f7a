import { z } from 'zod'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'
import { unsafeRegexReason } from './safe-regex.ts'

/**
 * Prefixes CI systems and zkrunner give meaning to. A parameter under one of them could override
 * what the runner trusts (`CI_COMMIT_SHA`, `GIT_STRATEGY`, `ZKRUNNER_JOB_ID`), so none is a parameter.
 */
export const RESERVED_PARAMETER_PREFIXES = [
  'CI_',
  'GIT_',
  'GITLAB_',
  'FF_',
  'GITHUB_',
  'RUNNER_',
  'ACTIONS_',
  'ZKRUNNER_',
] as const

/** Whether a parameter name is one CI systems reserve (compared case-insensitively: Windows runners are). */
export const isReservedParameterName = (name: string): boolean =>
  RESERVED_PARAMETER_PREFIXES.some((p) => name.toUpperCase().startsWith(p))

// C0 and C1 controls: a newline in a CI variable can forge a dotenv line or a log line.
/** Whether a string holds a control character (newline, tab, escape, …). */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true
  }
  return false
}

/** A parameter's name: it becomes a GitLab CI variable, so it follows GitLab's variable-name rule. */
export const ParameterNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a CI variable name')
  .refine((n) => !isReservedParameterName(n), 'is a name CI systems reserve')
const TextSchema = (max: number) =>
  z
    .string()
    .max(max)
    .refine((t) => !hasControlCharacter(t), 'must not hold control characters')
const compiles = (pattern: string): boolean => {
  try {
    new RegExp(pattern, 'u')
    return true
  } catch {
    return false
  }
}

const common = {
  name: ParameterNameSchema,
  description: z.string().max(500).optional(),
  required: z.boolean().default(true),
}

/** One typed job parameter a service accepts, with its constraints. */
export const ParameterSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...common,
    type: z.literal('string'),
    minLength: z.int().min(0).max(4096).optional(),
    maxLength: z.int().min(0).max(4096).default(256),
    /** An anchored regular expression the whole value must match. */
    pattern: z
      .string()
      .max(200)
      .refine(compiles, 'must be a valid regular expression')
      .superRefine((pattern, ctx) => {
        const reason = unsafeRegexReason(pattern)
        if (reason !== null) ctx.addIssue({ code: 'custom', message: reason })
      })
      .optional(),
    default: TextSchema(4096).optional(),
  }),
  z.strictObject({
    ...common,
    type: z.literal('integer'),
    min: z.int().optional(),
    max: z.int().optional(),
    default: z.int().optional(),
  }),
  z.strictObject({ ...common, type: z.literal('boolean'), default: z.boolean().optional() }),
  z.strictObject({
    ...common,
    type: z.literal('enum'),
    values: z.array(TextSchema(128).min(1)).min(1).max(64),
    default: TextSchema(128).optional(),
  }),
])
/** One typed job parameter a service accepts, with its constraints. */
export type ParameterSpec = z.infer<typeof ParameterSpecSchema>

/** Parameter values as a user sends them. */
export const ParameterValuesSchema = z
  .record(ParameterNameSchema, z.union([TextSchema(4096), z.number(), z.boolean()]))
  .refine((r) => Object.keys(r).length <= 64, 'at most 64 parameters')
/** Parameter values as a user sends them. */
export type ParameterValues = z.infer<typeof ParameterValuesSchema>

const bad = <T>(name: string, message: string): Result<T> =>
  fail<T>(ProtocolErrorCode.INVALID_PARAMETER, message, ['parameters', name])

function checkOne(spec: ParameterSpec, value: string | number | boolean): Result<string> {
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return bad(spec.name, 'must be a string')
      // Also checked here: a spec's default or a caller that skipped the schema reaches this too.
      if (hasControlCharacter(value)) return bad(spec.name, 'must not hold control characters')
      if (value.length > spec.maxLength)
        return bad(spec.name, `at most ${spec.maxLength} characters`)
      if (spec.minLength !== undefined && value.length < spec.minLength) {
        return bad(spec.name, `at least ${spec.minLength} characters`)
      }
      if (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern})$`, 'u').test(value)) {
        return bad(spec.name, `must match ${spec.pattern}`)
      }
      return ok(value)
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isSafeInteger(value))
        return bad(spec.name, 'must be an integer')
      if (spec.min !== undefined && value < spec.min) return bad(spec.name, `at least ${spec.min}`)
      if (spec.max !== undefined && value > spec.max) return bad(spec.name, `at most ${spec.max}`)
      return ok(String(value))
    }
    case 'boolean':
      if (typeof value !== 'boolean') return bad(spec.name, 'must be true or false')
      return ok(String(value))
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        return bad(spec.name, `must be one of ${spec.values.join(', ')}`)
      }
      return ok(value)
  }
}

/**
 * Checks values against a service's parameter specs and returns them as CI variable strings,
 * defaults filled in. Unknown names are refused: a job runs only with parameters its service declares.
 */
export function validateParameters(
  specs: readonly ParameterSpec[],
  values: ParameterValues,
): Result<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of Object.keys(values)) {
    if (isReservedParameterName(name)) return bad(name, 'is a name CI systems reserve')
    if (!specs.some((s) => s.name === name)) return bad(name, 'not a parameter of this service')
  }
  for (const spec of specs) {
    const value = Object.hasOwn(values, spec.name) ? values[spec.name] : spec.default
    if (value === undefined) {
      if (spec.required) return bad(spec.name, 'required')
      continue
    }
    const checked = checkOne(spec, value)
    if (!checked.ok) return fail(checked.error.code, checked.error.message, checked.error.path)
    out[spec.name] = checked.value
  }
  return ok(out)
}

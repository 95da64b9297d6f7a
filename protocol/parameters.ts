import { z } from 'zod'
import { hasControlCharacter } from './control-characters.ts'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'
import { MAX_OUTPUTS, OUTPUT_TYPES, OutputNameSchema } from './outputs.ts'
import { PublicKeySchema } from './primitives.ts'
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

/** The types a parameter may have (the `type` of each ParameterSpec). */
export const PARAMETER_TYPES = ['string', 'integer', 'boolean', 'enum', 'service'] as const
/** One parameter type. */
export type ParameterType = (typeof PARAMETER_TYPES)[number]

const uniqueNames = (entries: readonly { name: string }[]) =>
  new Set(entries.map((e) => e.name)).size === entries.length

/**
 * What a `service` parameter requires of the service passed in (its driver): parameters the outer
 * job will set and outputs it will read, by name and type. A driver matches when it declares each
 * (protocol's checkDriver, service-parameter.ts).
 */
export const ServiceInterfaceSchema = z.strictObject({
  parameters: z
    .array(z.strictObject({ name: ParameterNameSchema, type: z.enum(PARAMETER_TYPES) }))
    .max(64)
    .refine(uniqueNames, 'parameter names must be unique')
    .optional()
    .meta({ description: 'Parameters the driver must declare, with these types.' }),
  outputs: z
    .array(z.strictObject({ name: OutputNameSchema, type: z.enum(OUTPUT_TYPES) }))
    .max(MAX_OUTPUTS)
    .refine(uniqueNames, 'output names must be unique')
    .optional()
    .meta({ description: 'Outputs the driver must declare as required, with these types.' }),
})
/** What a `service` parameter requires of its driver. */
export type ServiceInterface = z.infer<typeof ServiceInterfaceSchema>

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
  z.strictObject({
    ...common,
    type: z.literal('service').meta({
      description:
        'Another service (its contract address, B62…) the job uses as its driver: it must be a live, registered service version matching `interface`.',
    }),
    interface: ServiceInterfaceSchema.optional(),
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
    // Only the address's form here: whether it names a matching driver needs the chain and the
    // registry, which the caller reads and hands to checkDriver.
    case 'service':
      if (typeof value !== 'string' || !PublicKeySchema.safeParse(value).success)
        return bad(spec.name, 'must be a service contract address (B62…)')
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
    // A driver has no default: the user chooses it, and the rule checks it (checkDriver).
    const fallback = spec.type === 'service' ? undefined : spec.default
    const value = Object.hasOwn(values, spec.name) ? values[spec.name] : fallback
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

// Typed job outputs: how a service declares them, how a job's written values are checked, how the
// manifest records them, and their one Field encoding (outputFields, outputsDigest) that a zkApp
// can read in a proof. Every reader (agent, page, CLI, consumers) uses these, never a copy.
import { z } from 'zod'
import { cidToFields } from './cid-fields.ts'
import { hasControlCharacter } from './control-characters.ts'
import { digestToFields } from './digest.ts'
import { fromHex } from './encoding.ts'
import type { Result } from './errors.ts'
import { parseWith } from './parse.ts'
import { poseidonHashWithPrefix } from './poseidon.ts'
import { ContentCidSchema, Sha256HexSchema, Uint64Schema } from './primitives.ts'

/** Outputs one service may declare. */
export const MAX_OUTPUTS = 32
/** UTF-8 bytes of a short string output at most: three 31-byte chunks hold 93, so 64 leaves room. */
export const MAX_OUTPUT_STRING_BYTES = 64
/** Problems one manifest lists at most (the rest are counted in the last one). */
export const MAX_OUTPUT_PROBLEMS = 16
/** Bytes of one problem message at most. */
const MAX_PROBLEM_CHARS = 300
/** Poseidon prefix of outputsDigest (under 32 bytes, see prefixToField). */
export const OUTPUTS_DIGEST_PREFIX = 'zkrunner/outputs/v1'

/** The types an output may have. */
export const OUTPUT_TYPES = ['integer', 'boolean', 'sha256', 'cid', 'string'] as const
/** One output type. */
export type OutputType = (typeof OUTPUT_TYPES)[number]

/** Fields one output takes in outputFields, after its presence Field: fixed per type. */
export const OUTPUT_TYPE_FIELDS: Readonly<Record<OutputType, number>> = {
  integer: 1,
  boolean: 1,
  sha256: 2,
  cid: 2,
  // byte length, then the UTF-8 bytes in three 31-byte big-endian chunks, zero-padded
  string: 4,
}

/** An output's name: a word, as a job's script can spell it in `zkrunner-agent output NAME`. */
export const OutputNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a name of letters, digits and _ (max 64)')

const common = {
  name: OutputNameSchema,
  description: z.string().max(500).optional(),
  /** A required output that the job does not write makes the outputs invalid. */
  required: z.boolean().default(true),
}

/** One typed output a service's job writes. */
export const OutputSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...common,
    type: z.literal('integer').meta({ description: 'An unsigned 64-bit integer.' }),
    min: Uint64Schema.optional(),
    max: Uint64Schema.optional(),
  }),
  z.strictObject({ ...common, type: z.literal('boolean') }),
  z.strictObject({
    ...common,
    type: z.literal('sha256').meta({ description: 'A SHA-256 digest, 64 lower-case hex digits.' }),
  }),
  z.strictObject({
    ...common,
    type: z
      .literal('cid')
      .meta({ description: 'A CIDv1, raw or dag-pb, sha2-256 (the only CIDs a proof reads).' }),
  }),
  z.strictObject({
    ...common,
    type: z.literal('string'),
    maxBytes: z
      .int()
      .min(1)
      .max(MAX_OUTPUT_STRING_BYTES)
      .default(MAX_OUTPUT_STRING_BYTES)
      .meta({ description: `UTF-8 bytes at most (≤ ${MAX_OUTPUT_STRING_BYTES}).` }),
  }),
])
/** One typed output a service's job writes. */
export type OutputSpec = z.infer<typeof OutputSpecSchema>

/** A service's declared outputs: names unique, min ≤ max. */
export const OutputSpecsSchema = z
  .array(OutputSpecSchema)
  .max(MAX_OUTPUTS)
  .superRefine((specs, ctx) => {
    const seen = new Set<string>()
    specs.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({ code: 'custom', message: 'output names must be unique', path: [i, 'name'] })
      seen.add(s.name)
      if (
        s.type === 'integer' &&
        s.min !== undefined &&
        s.max !== undefined &&
        /^\d+$/.test(s.min) &&
        /^\d+$/.test(s.max) &&
        BigInt(s.min) > BigInt(s.max)
      )
        ctx.addIssue({ code: 'custom', message: 'min must not exceed max', path: [i, 'min'] })
    })
  })

/** Validates an untrusted list of output declarations. */
export const parseOutputSpecs = (input: unknown): Result<OutputSpec[]> =>
  parseWith(OutputSpecsSchema, input)

/** A checked output value as the manifest holds it: integers as decimal strings (u64 > 2^53). */
export type OutputValue = string | boolean

const utf8 = new TextEncoder()
const LONE_SURROGATE = /\p{Cs}/u

/**
 * Checks one written value against its type and constraints and returns it in its manifest form,
 * or a message saying why not. Values arrive as the job wrote them: text from `zkrunner-agent
 * output`, or a JSON string, boolean or number from the outputs file.
 */
export function checkOutputValue(
  spec: OutputSpec,
  raw: unknown,
): { ok: true; value: OutputValue } | { ok: false; message: string } {
  const bad = (message: string) => ({ ok: false as const, message })
  switch (spec.type) {
    case 'integer': {
      const text = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw
      if (typeof text !== 'string' || !Uint64Schema.safeParse(text).success)
        return bad('must be an unsigned 64-bit integer in decimal')
      const n = BigInt(text)
      if (spec.min !== undefined && n < BigInt(spec.min)) return bad(`must be at least ${spec.min}`)
      if (spec.max !== undefined && n > BigInt(spec.max)) return bad(`must be at most ${spec.max}`)
      return { ok: true, value: text }
    }
    case 'boolean':
      if (raw === true || raw === 'true') return { ok: true, value: true }
      if (raw === false || raw === 'false') return { ok: true, value: false }
      return bad('must be true or false')
    case 'sha256':
      if (typeof raw !== 'string' || !Sha256HexSchema.safeParse(raw).success)
        return bad('must be a SHA-256 digest in 64 lower-case hex digits')
      return { ok: true, value: raw }
    case 'cid':
      if (
        typeof raw !== 'string' ||
        !ContentCidSchema.safeParse(raw).success ||
        !cidToFields(raw).ok
      )
        return bad('must be a CIDv1, raw or dag-pb, sha2-256')
      return { ok: true, value: raw }
    case 'string': {
      if (typeof raw !== 'string') return bad('must be a string')
      if (LONE_SURROGATE.test(raw) || hasControlCharacter(raw))
        return bad('must be well-formed text without control characters')
      if (utf8.encode(raw).length > spec.maxBytes)
        return bad(`must be at most ${spec.maxBytes} bytes of UTF-8`)
      return { ok: true, value: raw }
    }
  }
}

const ProblemSchema = z.string().min(1).max(MAX_PROBLEM_CHARS)

const valueSchemaOf = (type: OutputType) => {
  switch (type) {
    case 'integer':
      return Uint64Schema
    case 'boolean':
      return z.boolean()
    case 'sha256':
      return Sha256HexSchema
    case 'cid':
      return ContentCidSchema.refine((s) => cidToFields(s).ok, 'must be a CIDv1')
    case 'string':
      return z
        .string()
        .refine(
          (s) =>
            !LONE_SURROGATE.test(s) &&
            !hasControlCharacter(s) &&
            utf8.encode(s).length <= MAX_OUTPUT_STRING_BYTES,
          `must be text of at most ${MAX_OUTPUT_STRING_BYTES} UTF-8 bytes`,
        )
  }
}

/** One declared output in a manifest: its value, or null when the job did not write a valid one. */
export const ManifestOutputSchema = z
  .strictObject({
    name: OutputNameSchema,
    type: z.enum(OUTPUT_TYPES),
    value: z.union([z.string().max(400), z.boolean()]).nullable(),
  })
  .superRefine((o, ctx) => {
    if (o.value === null) return
    if (!valueSchemaOf(o.type).safeParse(o.value).success)
      ctx.addIssue({ code: 'custom', message: `not a ${o.type} value`, path: ['value'] })
  })
/** One declared output in a manifest. */
export type ManifestOutput = z.infer<typeof ManifestOutputSchema>

/**
 * A job's outputs as the runner signs them: every declared output in declaration order (so the
 * Field layout is the descriptor's), and whether they all matched the declaration. `valid` is
 * false exactly when `problems` lists why (a value that does not parse, an undeclared name, a
 * name written twice, a required output missing, an unreadable outputs file).
 */
export const ManifestOutputsSchema = z
  .strictObject({
    valid: z.boolean(),
    values: z.array(ManifestOutputSchema).max(MAX_OUTPUTS),
    problems: z.array(ProblemSchema).max(MAX_OUTPUT_PROBLEMS),
  })
  .refine((o) => o.valid === (o.problems.length === 0), {
    message: 'outputs are valid exactly when no problem is listed',
    path: ['valid'],
  })
  .refine((o) => new Set(o.values.map((v) => v.name)).size === o.values.length, {
    message: 'output names must be unique',
    path: ['values'],
  })
/** A job's outputs as the runner signs them. */
export type ManifestOutputs = z.infer<typeof ManifestOutputsSchema>

/** One value as the job wrote it: the name and the raw value (text or JSON). */
export interface WrittenOutput {
  name: string
  value: unknown
}

const clip = (text: string) =>
  text.length <= MAX_PROBLEM_CHARS ? text : `${text.slice(0, MAX_PROBLEM_CHARS - 1)}…`
// A name the job wrote is echoed only when it is a well-formed name; anything else is counted.
const shown = (name: string) =>
  OutputNameSchema.safeParse(name).success ? name : '(a malformed name)'

/**
 * Checks what a job wrote against its service's declarations and builds the manifest's outputs.
 * `fileProblems` are problems found reading what the job wrote (an unreadable or oversized file).
 * Never throws: a job's outputs are its own, and a bad one is recorded, not fatal.
 */
export function checkOutputs(
  specs: readonly OutputSpec[],
  written: readonly WrittenOutput[],
  fileProblems: readonly string[] = [],
): ManifestOutputs {
  const problems: string[] = [...fileProblems]
  const byName = new Map<string, unknown>()
  const twice = new Set<string>()
  for (const w of written) {
    if (!specs.some((s) => s.name === w.name)) {
      problems.push(`${shown(w.name)}: not an output the service declares`)
      continue
    }
    if (byName.has(w.name)) {
      if (!twice.has(w.name)) problems.push(`${w.name}: written more than once`)
      twice.add(w.name)
      continue
    }
    byName.set(w.name, w.value)
  }
  const values: ManifestOutput[] = []
  for (const spec of specs) {
    let value: OutputValue | null = null
    if (twice.has(spec.name)) {
      // Which of the writes is the job's answer is unknown: none is recorded.
    } else if (!byName.has(spec.name)) {
      if (spec.required) problems.push(`${spec.name}: required, but the job did not write it`)
    } else {
      const checked = checkOutputValue(spec, byName.get(spec.name))
      if (checked.ok) value = checked.value
      else problems.push(`${spec.name}: ${checked.message}`)
    }
    values.push({ name: spec.name, type: spec.type, value })
  }
  const listed =
    problems.length <= MAX_OUTPUT_PROBLEMS
      ? problems
      : [
          ...problems.slice(0, MAX_OUTPUT_PROBLEMS - 1),
          `and ${problems.length - MAX_OUTPUT_PROBLEMS + 1} more problems`,
        ]
  return { valid: listed.length === 0, values, problems: listed.map(clip) }
}

/** Validates an untrusted manifest outputs section. */
export const parseManifestOutputs = (input: unknown): Result<ManifestOutputs> =>
  parseWith(ManifestOutputsSchema, input)

const bigintOfBytes = (bytes: Uint8Array): bigint => {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

/** A short string as Fields: byte length, then three 31-byte big-endian chunks, zero-padded. */
export function stringToFields(text: string): bigint[] {
  const bytes = utf8.encode(text)
  if (bytes.length > MAX_OUTPUT_STRING_BYTES)
    throw new RangeError(`a string output is at most ${MAX_OUTPUT_STRING_BYTES} bytes`)
  const padded = new Uint8Array(93)
  padded.set(bytes)
  return [
    BigInt(bytes.length),
    bigintOfBytes(padded.subarray(0, 31)),
    bigintOfBytes(padded.subarray(31, 62)),
    bigintOfBytes(padded.subarray(62, 93)),
  ]
}

/**
 * One output's Fields: a presence Field (1 when the value is there, else 0 and zeros after it),
 * then OUTPUT_TYPE_FIELDS[type] Fields: an integer or boolean as itself, a sha256 digest as two
 * 128-bit halves (digestToFields), a CID as cidToFields, a string as stringToFields.
 */
export function outputToFields(output: ManifestOutput): bigint[] {
  const width = OUTPUT_TYPE_FIELDS[output.type]
  if (output.value === null) return new Array<bigint>(width + 1).fill(0n)
  const v = output.value
  const fields = ((): bigint[] => {
    switch (output.type) {
      case 'integer':
        return [BigInt(v as string)]
      case 'boolean':
        return [v === true ? 1n : 0n]
      case 'sha256': {
        const r = digestToFields(fromHex(v as string))
        if (!r.ok) throw r.error
        return r.value
      }
      case 'cid': {
        const r = cidToFields(v as string)
        if (!r.ok) throw r.error
        return r.value
      }
      case 'string':
        return stringToFields(v as string)
    }
  })()
  return [1n, ...fields]
}

/**
 * The Field encoding of a job's outputs: `valid` (1 or 0), then each declared output's Fields in
 * declaration order (outputToFields). The layout is fixed by the service's declarations, so a
 * consumer circuit of one service version reads it as a fixed-size struct.
 */
export function outputFields(outputs: ManifestOutputs): bigint[] {
  return [outputs.valid ? 1n : 0n, ...outputs.values.flatMap(outputToFields)]
}

/**
 * Poseidon digest of outputFields under OUTPUTS_DIGEST_PREFIX, equal to o1js
 * `Poseidon.hashWithPrefix('zkrunner/outputs/v1', fields)`: what a settled leaf binds so a proof
 * reads outputs without SHA-256 or JSON. A job without declared outputs digests `[1]`.
 */
export function outputsDigest(outputs: ManifestOutputs | undefined): bigint {
  return poseidonHashWithPrefix(
    OUTPUTS_DIGEST_PREFIX,
    outputFields(outputs ?? { valid: true, values: [], problems: [] }),
  )
}

/**
 * Why a manifest's outputs are not laid out as the service declares them (names and types, in
 * order), or null when they are. A reader holding the descriptor checks this before it trusts
 * the Field layout: the runner signs the outputs, but the descriptor fixes their shape.
 */
export function outputsLayoutProblem(
  specs: readonly OutputSpec[] | undefined,
  outputs: ManifestOutputs | undefined,
): string | null {
  const declared = specs ?? []
  if (outputs === undefined)
    return declared.length === 0 ? null : 'the service declares outputs; the manifest has none'
  const got = outputs.values.map((v) => `${v.name}:${v.type}`).join(', ')
  const want = declared.map((s) => `${s.name}:${s.type}`).join(', ')
  return got === want ? null : `the manifest lays out [${got}], the service declares [${want}]`
}

import type { z } from 'zod'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'

/** Validates `input` against `schema`, turning the first zod issue into a ProtocolError with its path. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): Result<z.output<S>> {
  const parsed = schema.safeParse(input)
  if (parsed.success) return ok(parsed.data)
  const issue = parsed.error.issues[0]
  if (!issue) return fail(ProtocolErrorCode.INVALID_FIELD, 'invalid message')
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? ''
    return fail(ProtocolErrorCode.UNKNOWN_FIELD, `unknown field "${key}"`, [...path, key])
  }
  if (path.length > 0 && isAbsent(input, path)) {
    return fail(ProtocolErrorCode.MISSING_FIELD, 'required', path)
  }
  return fail(ProtocolErrorCode.INVALID_FIELD, issue.message, path)
}

/** Parses JSON text, then validates it: malformed JSON is an error result, not an exception. */
export function parseJsonWith<S extends z.ZodType>(schema: S, text: string): Result<z.output<S>> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return fail(ProtocolErrorCode.MALFORMED_JSON, 'body is not valid JSON')
  }
  return parseWith(schema, value)
}

// True when the object that should hold the last path segment exists but lacks it.
function isAbsent(input: unknown, path: ReadonlyArray<string | number>): boolean {
  let node: unknown = input
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return false
    node = (node as Record<string | number, unknown>)[key]
  }
  const last = path[path.length - 1]!
  return (
    node !== null &&
    typeof node === 'object' &&
    (node as Record<string | number, unknown>)[last] === undefined
  )
}

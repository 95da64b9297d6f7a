import { z } from 'zod'
import { PublicKeySchema } from './primitives.ts'

// A higher-order service's job calls its driver as an ordinary user; the driver's job may call
// another. The request carries the service versions above it (each version is its own contract
// address), outermost first, bound into the request digest so a runner signs where it was called
// from. The Worker refuses a call too deep or through a version already above it before anything
// is charged: an unbounded chain or a loop would spend every budget on the way down.

/** The deepest a job may run: the user's own request is depth 1, its driver's job depth 2, … */
export const MAX_CALL_DEPTH = 4

/**
 * The service versions above a request, outermost first. Parsed up to twice the limit so a
 * request one or a few levels too deep is refused by the rule with its code, not as malformed.
 */
export const CallPathSchema = z.array(PublicKeySchema).max(MAX_CALL_DEPTH * 2)
/** The service versions above a request, outermost first. */
export type CallPath = z.infer<typeof CallPathSchema>

/** Stable codes of why a call is refused; they appear in the Worker's 422 errors. Never rename one. */
export const CallRefusal = {
  /** The job would run deeper than MAX_CALL_DEPTH. */
  TOO_DEEP: 'call-too-deep',
  /** The service version asked for is already above it on the path (a cycle). */
  CYCLE: 'call-cycle',
} as const
/** Why a call is refused (one of CallRefusal). */
export type CallRefusalCode = (typeof CallRefusal)[keyof typeof CallRefusal]

/** The depth a request runs at: 1 for a user's own request. */
export const callDepth = (callPath: readonly string[] | undefined): number =>
  (callPath?.length ?? 0) + 1

/** Whether a request for `service` from below `callPath` may run; if not, which rule and why. */
export function checkCallPath(
  service: string,
  callPath: readonly string[] | undefined,
): { ok: true } | { ok: false; code: CallRefusalCode; message: string } {
  const path = callPath ?? []
  const depth = callDepth(path)
  if (depth > MAX_CALL_DEPTH)
    return {
      ok: false,
      code: CallRefusal.TOO_DEEP,
      message: `the call would run at depth ${depth}; at most ${MAX_CALL_DEPTH} levels are allowed`,
    }
  const seen = new Set<string>()
  for (const s of [...path, service]) {
    if (seen.has(s))
      return {
        ok: false,
        code: CallRefusal.CYCLE,
        message: `service version ${s} is already on the call path (${path.join(' → ')})`,
      }
    seen.add(s)
  }
  return { ok: true }
}

/** The call path of a job that `service` runs for a request carrying `callPath`: one level down. */
export const callPathBelow = (
  callPath: readonly string[] | undefined,
  service: string,
): string[] => [...(callPath ?? []), service]

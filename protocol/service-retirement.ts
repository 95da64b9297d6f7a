import { z } from 'zod'
import { fail, type Result } from './errors.ts'
import { retirementMessage } from './messages.ts'
import { parseWith } from './parse.ts'
import { PublicKeySchema, SignatureSchema } from './primitives.ts'
import { signFields, verifyFields } from './signature.ts'

/**
 * An operator's retirement of one service version with the Worker
 * (POST /v1/services/:address/retire): the Worker admits no new job for it afterwards.
 */
export const ServiceRetirementSchema = z.strictObject({
  v: z.literal(1),
  /** The service contract's address. */
  service: PublicKeySchema,
  /** When the operator signed it (ms since the epoch); the Worker accepts it only near its clock. */
  at: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Signature of the descriptor's runner key over retirementMessage(service, at). */
  signature: SignatureSchema,
})
/** An operator's retirement of one service version. */
export type ServiceRetirement = z.infer<typeof ServiceRetirementSchema>

/** Validates an untrusted retirement (shape only; see verifyServiceRetirement). */
export const parseServiceRetirement = (input: unknown): Result<ServiceRetirement> =>
  parseWith(ServiceRetirementSchema, input)

/** Signs a retirement of `service` at `at` with the runner key its descriptor names. */
export function signServiceRetirement(
  r: { service: string; at: number },
  runnerPrivateKey: string,
): ServiceRetirement {
  return { v: 1, ...r, signature: signFields(retirementMessage(r), runnerPrivateKey) }
}

/** Checks the retirement is signed by `runnerPublicKey` (the registered descriptor's runner key). */
export function verifyServiceRetirement(
  r: ServiceRetirement,
  runnerPublicKey: string,
): Result<true> {
  const v = verifyFields(retirementMessage(r), r.signature, runnerPublicKey)
  return v.ok ? v : fail(v.error.code, v.error.message, ['signature'])
}

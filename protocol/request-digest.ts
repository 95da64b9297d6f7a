import { z } from 'zod'
import { CallPathSchema } from './call-path.ts'
import { sha256 } from './digest.ts'
import { canonicalBytes, toHex } from './encoding.ts'
import type { Result } from './errors.ts'
import { ParameterNameSchema } from './parameters.ts'
import { parseWith } from './parse.ts'
import { PublicKeySchema, RequestIdSchema, WellFormedStringSchema } from './primitives.ts'

/**
 * What a result must answer: the request id, who asked, for which service, and the parameters as
 * the job ran them (CI variable strings, defaults filled in, from validateParameters). The Worker
 * hands it to the runner; the runner signs its digest in the manifest; the page recomputes it from
 * what it sent, so a Worker cannot hand back another request's result.
 */
export const RequestBindingSchema = z.strictObject({
  requestId: RequestIdSchema,
  service: PublicKeySchema,
  user: PublicKeySchema,
  parameters: z
    .record(ParameterNameSchema, WellFormedStringSchema.max(4096))
    .refine((r) => Object.keys(r).length <= 64, 'at most 64 parameters'),
  /** The service versions above this request, outermost first; absent or empty at the top. */
  callPath: CallPathSchema.optional(),
})
/** What a result must answer. */
export type RequestBinding = z.infer<typeof RequestBindingSchema>

// Inside the hashed object, so a request digest can never be read as another digest of the project.
const REQUEST_DIGEST_DOMAIN = 'zkrunner/request/v1'

/** Validates an untrusted request binding (the runner reads it from pipeline variables). */
export const parseRequestBinding = (input: unknown): Result<RequestBinding> =>
  parseWith(RequestBindingSchema, input)

/** SHA-256 (hex) of the binding's canonical JSON under the request domain: the manifest's `requestDigest`. */
export function requestDigest(binding: RequestBinding): string {
  const { requestId, service, user, parameters, callPath } = binding
  // A nested request's path is hashed with it; a top-level one hashes exactly as before callPath
  // existed, so every digest signed earlier still verifies.
  const nested = callPath !== undefined && callPath.length > 0 ? { callPath } : {}
  return toHex(
    sha256(
      canonicalBytes({
        domain: REQUEST_DIGEST_DOMAIN,
        requestId,
        service,
        user,
        parameters,
        ...nested,
      }),
    ),
  )
}

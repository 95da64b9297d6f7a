import { z } from 'zod'
import { CallPathSchema } from './call-path.ts'
import { toHex } from './encoding.ts'
import type { Result } from './errors.ts'
import { ParameterValuesSchema } from './parameters.ts'
import { parseWith } from './parse.ts'
import { PublicKeySchema, RequestIdSchema } from './primitives.ts'
import { VoucherSchema } from './voucher.ts'

/** A one-time request to run a service's job once. */
export const JobRequestSchema = z.strictObject({
  v: z.literal(1),
  /** The service contract's address. */
  service: PublicKeySchema,
  /** Who pays: the voucher's signer. */
  user: PublicKeySchema,
  /** 128 random bits, used once: the Worker refuses a request id it has seen. */
  requestId: RequestIdSchema,
  parameters: ParameterValuesSchema.default({}),
  /** Unix time in seconds after which the Worker refuses the request. */
  expiresAt: z
    .int()
    .min(0)
    .max(2 ** 40),
  /**
   * The service versions above this request when a job calls a driver, outermost first (absent:
   * a user's own request). The Worker refuses a path too deep or with a cycle (checkCallPath).
   */
  callPath: CallPathSchema.optional(),
})
/** A one-time request to run a service's job once. */
export type JobRequest = z.infer<typeof JobRequestSchema>

/** What the page seals to the Worker: the request and the voucher that pays for it. */
export const JobSubmissionSchema = z
  .strictObject({ request: JobRequestSchema, voucher: VoucherSchema })
  .refine((s) => s.voucher.service === s.request.service, {
    message: 'voucher is for another service',
    path: ['voucher', 'service'],
  })
  .refine((s) => s.voucher.user === s.request.user, {
    message: 'voucher is signed by another user',
    path: ['voucher', 'user'],
  })
/** The sealed content of POST /v1/jobs. */
export type JobSubmission = z.infer<typeof JobSubmissionSchema>

/** Validates an untrusted job request. */
export const parseJobRequest = (input: unknown): Result<JobRequest> =>
  parseWith(JobRequestSchema, input)

/** Validates an untrusted (decrypted) job submission. */
export const parseJobSubmission = (input: unknown): Result<JobSubmission> =>
  parseWith(JobSubmissionSchema, input)

/** A fresh 128-bit request id from the platform's CSPRNG. */
export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return toHex(bytes)
}

import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ProtocolError } from '../protocol/index.ts'
import { ApiError, type ApiErrorCode, ApiErrorCode as Codes } from './errors.ts'
import type { Outcome } from './service-object.ts'

/** The value of a Durable Object outcome, or its refusal re-thrown as an ApiError. */
export function unwrapOutcome<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value
  throw new ApiError(
    outcome.status as ContentfulStatusCode,
    outcome.code as ApiErrorCode,
    outcome.message,
  )
}

const protocolCodes: Record<string, ApiErrorCode> = {
  MALFORMED_JSON: Codes.MALFORMED_JSON,
  UNKNOWN_KEY_ID: Codes.UNKNOWN_KEY_ID,
  DECRYPT_FAILED: Codes.DECRYPT_FAILED,
  BAD_SIGNATURE: Codes.BAD_SIGNATURE,
  INVALID_PARAMETER: Codes.INVALID_PARAMETERS,
}

/** A protocol parse failure as a 400 (or 422 for parameters) with the protocol's path. */
export function fromProtocol(
  error: ProtocolError,
  fallback: ApiErrorCode = Codes.INVALID_BODY,
): ApiError {
  const code = protocolCodes[error.code] ?? fallback
  const status = code === Codes.INVALID_PARAMETERS ? 422 : code === Codes.BAD_SIGNATURE ? 403 : 400
  return new ApiError(status, code, error.message, error.path)
}

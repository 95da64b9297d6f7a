import type { ContentfulStatusCode } from 'hono/utils/http-status'

/** Stable error codes of the Worker's HTTP API: clients match on them, so they are never renamed. */
export const ApiErrorCode = {
  BODY_TOO_LARGE: 'body_too_large',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  MALFORMED_JSON: 'malformed_json',
  INVALID_BODY: 'invalid_body',
  BAD_ENVELOPE: 'bad_envelope',
  UNKNOWN_KEY_ID: 'unknown_key_id',
  DECRYPT_FAILED: 'decrypt_failed',
  EXPIRED: 'expired',
  REPLAYED: 'replayed',
  UNKNOWN_SERVICE: 'unknown_service',
  SERVICE_DISABLED: 'service_disabled',
  SERVICE_RETIRED: 'service_retired',
  /** Not a genuine, frozen zkrunner service (fake vault, other code, unfrozen permissions). */
  UNSAFE_SERVICE: 'unsafe_service',
  DESCRIPTOR_MISMATCH: 'descriptor_mismatch',
  /** A registration in an older shape (it names a receipt token; deposits now sit in the ledger). */
  REGISTRATION_OUTDATED: 'registration_outdated',
  INVALID_PARAMETERS: 'invalid_parameters',
  /** A `service` parameter names no service contract (protocol's driver rule: unknown-service). */
  DRIVER_UNKNOWN: 'driver_unknown',
  /** A `service` parameter names a contract that is not a registered version (not-registered). */
  DRIVER_NOT_REGISTERED: 'driver_not_registered',
  /** A `service` parameter names a version that takes no job now (unavailable: retired, stale, …). */
  DRIVER_UNAVAILABLE: 'driver_unavailable',
  /** A `service` parameter names a version whose descriptor does not match the interface. */
  DRIVER_INTERFACE_MISMATCH: 'driver_interface_mismatch',
  /** A driver call would run deeper than protocol's MAX_CALL_DEPTH. */
  CALL_TOO_DEEP: 'call_too_deep',
  /** A driver call goes through a service version already above it on its call path. */
  CALL_CYCLE: 'call_cycle',
  TRIGGER_INPUTS_TOO_LARGE: 'trigger_inputs_too_large',
  BAD_SIGNATURE: 'bad_signature',
  VOUCHER_STALE: 'voucher_stale',
  VOUCHER_INSUFFICIENT: 'voucher_insufficient',
  VOUCHER_ABOVE_DEPOSIT: 'voucher_above_deposit',
  /** A sponsored request names a sponsor with no sponsorship of this service. */
  SPONSORSHIP_UNKNOWN: 'sponsorship_unknown',
  /** A sponsor's grant whose vouchers do not start above its earlier grant's (a replay). */
  SPONSORSHIP_STALE: 'sponsorship_stale',
  /** The service keeps as many sponsors as it may (MAX_SPONSORSHIPS). */
  SPONSORSHIPS_FULL: 'sponsorships_full',
  /** The user ran as many jobs on the sponsor's pool today as the sponsorship allows. */
  ALLOWANCE_EXCEEDED: 'allowance_exceeded',
  WRONG_RUNNER: 'wrong_runner',
  RESULT_CONFLICT: 'result_conflict',
  /**
   * The job's result deadline passed without a result: it was decided not charged (no-result),
   * and a report now would charge a job the user's later vouchers already leave out.
   */
  RESULT_TOO_LATE: 'result_too_late',
  UNAUTHORIZED: 'unauthorized',
  WRONG_PROJECT: 'wrong_project',
  NOT_FOUND: 'not_found',
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  NOT_CONFIGURED: 'not_configured',
  CHAIN_UNAVAILABLE: 'chain_unavailable',
  INTERNAL: 'internal',
} as const

/** One of the Worker's stable error codes. */
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode]

/** A failure with an HTTP status and a stable code; `app.onError` turns it into `{ error: { code, message } }`. */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ApiErrorCode,
    message: string,
    readonly path?: ReadonlyArray<string | number>,
  ) {
    super(message)
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: ApiErrorCode; message: string; path?: ReadonlyArray<string | number> }
}

/** The body for an ApiError (never a stack, never a secret: messages are written for clients). */
export function errorBody(error: ApiError): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.path && error.path.length > 0 ? { path: error.path } : {}),
    },
  }
}

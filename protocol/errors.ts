/** Stable codes for every way a protocol message can be rejected. Never renamed: clients match on them. */
export const ProtocolErrorCode = {
  /** The bytes are not JSON. */
  MALFORMED_JSON: 'MALFORMED_JSON',
  /** A required field is absent. */
  MISSING_FIELD: 'MISSING_FIELD',
  /** A field that the schema does not know. */
  UNKNOWN_FIELD: 'UNKNOWN_FIELD',
  /** A field has the wrong type or breaks a constraint. */
  INVALID_FIELD: 'INVALID_FIELD',
  /** A job parameter does not satisfy the service's parameter spec. */
  INVALID_PARAMETER: 'INVALID_PARAMETER',
  /** A CID zkrunner does not read or the chain cannot hold (not raw or dag-pb, not sha2-256, not v1 on chain). */
  UNSUPPORTED_CID: 'UNSUPPORTED_CID',
  /** Signed bytes that are not the canonical JSON of what they parse to (a duplicate key, say). */
  NOT_CANONICAL: 'NOT_CANONICAL',
  /** Fields that do not decode to a digest or CID. */
  INVALID_FIELDS: 'INVALID_FIELDS',
  /** An envelope for another key id. */
  UNKNOWN_KEY_ID: 'UNKNOWN_KEY_ID',
  /** An envelope that does not open: tampered, wrong key or wrong context. */
  DECRYPT_FAILED: 'DECRYPT_FAILED',
  /** A signature that does not verify for the claimed key and message. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** A key that is not a valid Mina or HPKE key. */
  INVALID_KEY: 'INVALID_KEY',
  /** An opening (sealed coordinates, a reveal) that does not open the source commitment. */
  WRONG_OPENING: 'WRONG_OPENING',
} as const

/** One of the stable protocol error codes. */
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode]

/** A rejected message: a stable code, the path of the offending field, and a human message. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    readonly path: ReadonlyArray<string | number> = [],
  ) {
    super(path.length > 0 ? `${path.join('.')}: ${message}` : message)
  }

  /** The JSON shape every HTTP endpoint answers with. */
  toJSON(): { code: ProtocolErrorCode; message: string; path: ReadonlyArray<string | number> } {
    return { code: this.code, message: this.message, path: this.path }
  }
}

/** The outcome of parsing or verifying: never throws for bad input. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ProtocolError }

/** Wraps a value as a successful result. */
export const ok = <T>(value: T): Result<T> => ({ ok: true, value })

/** Wraps a protocol error as a failed result. */
export const fail = <T = never>(
  code: ProtocolErrorCode,
  message: string,
  path: ReadonlyArray<string | number> = [],
): Result<T> => ({ ok: false, error: new ProtocolError(code, message, path) })

/** Returns the value or throws the ProtocolError: for callers that already validated their input. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw result.error
  return result.value
}

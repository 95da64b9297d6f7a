/** Stable error codes of the local chain; tests and callers match on `code`, never on text. */
export type ChainErrorCode =
  | 'CONFIG_INVALID'
  | 'STATE_FILE_INVALID'
  | 'TRANSACTION_REJECTED'
  | 'TRANSACTION_MALFORMED'
  | 'QUERY_INVALID'
  | 'REQUEST_TOO_LARGE'
  | 'NOT_FOUND'
  | 'NO_ACCOUNT_AVAILABLE'
  | 'CLOSED'

/** An error raised by the local chain, with a stable code and a one-line message. */
export class ChainError extends Error {
  override name = 'ChainError'
  constructor(
    readonly code: ChainErrorCode,
    message: string,
  ) {
    super(message)
  }
}

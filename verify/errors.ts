/**
 * Stable codes of the verifier's own failures (reading the chain or the gateways, a leaves
 * document that is not one). The strings are the page's codes of the same failures, so views,
 * the CLI and tests that match on a code see the same one whichever part raised it.
 */
export const VerifyErrorCode = {
  CHAIN_UNAVAILABLE: 'CHAIN_UNAVAILABLE',
  IPFS_UNAVAILABLE: 'IPFS_UNAVAILABLE',
  /** A bundle file is larger than the reader's per-file limit (the caller can raise it). */
  FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  /** A settlement's leaves document was retrieved but is not a valid leaf list for its channel. */
  SETTLED_LEAVES_INVALID: 'SETTLED_LEAVES_INVALID',
} as const

/** One of the verifier's stable error codes. */
export type VerifyErrorCode = (typeof VerifyErrorCode)[keyof typeof VerifyErrorCode]

/** A failure of a verification reader, with a stable code. */
export class VerifyError extends Error {
  override readonly name = 'VerifyError'
  constructor(
    readonly code: VerifyErrorCode,
    message: string,
  ) {
    super(message)
  }
}

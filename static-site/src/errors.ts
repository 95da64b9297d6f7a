/** Stable codes of the page's own failures: views and tests match on them. */
export const SiteErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  CONFIG_UNREACHABLE: 'CONFIG_UNREACHABLE',
  CHAIN_UNAVAILABLE: 'CHAIN_UNAVAILABLE',
  WORKER_UNAVAILABLE: 'WORKER_UNAVAILABLE',
  WORKER_REFUSED: 'WORKER_REFUSED',
  IPFS_UNAVAILABLE: 'IPFS_UNAVAILABLE',
  /** A bundle file is larger than the page's per-file limit (the user can raise it). */
  FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  WALLET_UNAVAILABLE: 'WALLET_UNAVAILABLE',
  WALLET_REFUSED: 'WALLET_REFUSED',
  INVALID_INPUT: 'INVALID_INPUT',
  PROVER_FAILED: 'PROVER_FAILED',
  /** The Mina node refused a transaction the page sent. */
  TRANSACTION_REJECTED: 'TRANSACTION_REJECTED',
  /** A settlement's leaves document was retrieved but is not a valid leaf list for its channel. */
  SETTLED_LEAVES_INVALID: 'SETTLED_LEAVES_INVALID',
} as const

/** One of the page's stable error codes. */
export type SiteErrorCode = (typeof SiteErrorCode)[keyof typeof SiteErrorCode]

/** A failure the page shows to the user, with a stable code (and the Worker's code when it refused). */
export class SiteError extends Error {
  override readonly name = 'SiteError'
  constructor(
    readonly code: SiteErrorCode,
    message: string,
    readonly remoteCode?: string,
  ) {
    super(message)
  }
}

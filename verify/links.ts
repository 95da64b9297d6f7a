/** Where one link of the verification chain stands. */
export type LinkStatus = 'ok' | 'broken' | 'pending'

/** The links of the chain from bytes on IPFS to the state of the service contract, in order. */
export const LINKS = {
  bundle: 'Bundle retrieved and verified against its CID',
  manifest: 'Manifest is well-formed and answers this request',
  files: 'Every file matches its SHA-256 in the manifest',
  signature: "Runner's signature on the manifest",
  runner: "Signer is the service's runner (descriptor on chain)",
  service: 'Manifest is for this service contract',
  source: 'Source commitment matches the service contract',
  settled: 'Included in the settled results root on chain',
  inner: 'Every inner job (driver call) verifies and was paid for by this runner',
} as const

/** Identifier of one link. */
export type LinkId = keyof typeof LINKS

/** One checked link: its name, its status and why. */
export interface VerificationLink {
  id: LinkId
  name: string
  status: LinkStatus
  detail: string
}

/** Builds a link record with its display name. */
export const link = (id: LinkId, status: LinkStatus, detail: string): VerificationLink => ({
  id,
  name: LINKS[id],
  status,
  detail,
})

/** The first broken link of a chain, or null when none is broken. */
export const firstBroken = (links: readonly VerificationLink[]): VerificationLink | null =>
  links.find((l) => l.status === 'broken') ?? null

/**
 * The links that make a bundle's content (exit code, figures, plot, logs) the runner's own for
 * this request. The content is shown as checked only when all of them hold and no other link is
 * broken (a pending settlement is fine: a result is genuine before it is paid for).
 */
export const CONTENT_LINKS: readonly LinkId[] = [
  'bundle',
  'manifest',
  'files',
  'signature',
  'runner',
]

/**
 * True when the content may be shown as checked; otherwise it is shown labelled unverified. A
 * manifest link left undecided because no request was given (with nothing broken) still vouches
 * for the content: it is the runner's own, only not known to answer a particular request.
 */
export const contentVerified = (links: readonly VerificationLink[]): boolean =>
  CONTENT_LINKS.every((id) =>
    links.some(
      (l) => l.id === id && (l.status === 'ok' || (id === 'manifest' && l.status === 'pending')),
    ),
  ) && firstBroken(links) === null

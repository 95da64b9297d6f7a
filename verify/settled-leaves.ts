import { fromHex, parseSettledLeaves } from '../protocol/index.ts'
import { VerifyError, VerifyErrorCode } from './errors.ts'
import type { BundleReader, SettledResults } from './verify-result.ts'

const decoder = new TextDecoder('utf-8', { fatal: true })

/** How long to wait for a leaves document: a gateway that never answers must not hold the link. */
const READ_TIMEOUT_MS = 30_000

/**
 * The leaves of a settled results root, read from the SettledLeaves document a Claim event names
 * (verified retrieval from the configured gateways), so anyone can check settlement, not only the
 * browser that requested the jobs. Retrieval failures keep their own error (IPFS_UNAVAILABLE);
 * a retrieved document that is not this channel's leaf list is SETTLED_LEAVES_INVALID.
 */
export function settledResultsFrom(
  reader: Pick<BundleReader, 'readCid'>,
  root: SettledResults['root'],
  timeoutMs = READ_TIMEOUT_MS,
): SettledResults {
  return {
    async digests(leavesCid, service, user, options) {
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = options?.signal ? AbortSignal.any([options.signal, timeout]) : timeout
      const bytes = await reader.readCid(leavesCid, { signal })
      const invalid = (why: string) =>
        new VerifyError(VerifyErrorCode.SETTLED_LEAVES_INVALID, `${leavesCid}: ${why}`)
      let json: unknown
      try {
        json = JSON.parse(decoder.decode(bytes))
      } catch {
        throw invalid('not JSON')
      }
      const parsed = parseSettledLeaves(json)
      if (!parsed.ok) throw invalid(parsed.error.message)
      const doc = parsed.value
      if (doc.service !== service) throw invalid(`lists the leaves of service ${doc.service}`)
      if (doc.user !== user) throw invalid(`lists the leaves of user ${doc.user}`)
      return doc.manifestDigests.map((d) => fromHex(d))
    },
    root,
  }
}

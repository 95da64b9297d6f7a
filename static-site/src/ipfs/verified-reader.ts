import { fallbackRouter } from '@helia/fallback-router'
import { withHTTP } from '@helia/http'
import { createVerifiedFetch, type VerifiedFetch } from '@helia/verified-fetch'
import { createHeliaLight } from 'helia'
import { SiteError, SiteErrorCode } from '../errors.ts'
import type { BundleReader } from '../verify/verify-result.ts'

/** A BundleReader backed by @helia/verified-fetch, plus a way to stop its Helia node. */
export interface VerifiedReader extends BundleReader {
  stop(): Promise<void>
}

const isLoopback = (u: URL) =>
  u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]'

/**
 * The configured gateways as an ordinary (non-fallback) content router. Helia 7 waits forever
 * when it has fallback routers only (its provider queue never goes idle without a default
 * router), so the gateway list is offered as a default router instead.
 */
function gatewayRouter(gateways: readonly string[]) {
  const inner = fallbackRouter({ gateways: [...gateways], shuffle: false })
  return {
    name: 'configured-gateways',
    findProviders: inner.findProviders?.bind(inner),
    toString: () => `ConfiguredGateways(${gateways.join(', ')})`,
  }
}

/**
 * Reads content by CID from the configured gateways with verified retrieval: a light Helia with
 * the gateways as its only router and no delegated routers, so nothing is asked of any server
 * but those listed, and every block is hashed against its CID before use.
 */
export async function createVerifiedReader(gateways: readonly string[]): Promise<VerifiedReader> {
  const urls = gateways.map((g) => new URL(g))
  const helia = await withHTTP(createHeliaLight({ routers: [gatewayRouter(gateways)] }), {
    delegatedRouters: [],
    recursiveGateways: [],
    // Only the local stack uses plain-HTTP loopback gateways; production lists HTTPS ones.
    allowInsecure: urls.some((u) => u.protocol === 'http:'),
    allowLocal: urls.some(isLoopback),
  }).start()
  const vfetch: VerifiedFetch = await createVerifiedFetch(helia)
  const read = async (resource: string, signal?: AbortSignal): Promise<Uint8Array> => {
    let res: Response
    try {
      res = await vfetch(resource, signal ? { signal } : {})
    } catch (e) {
      throw new SiteError(
        SiteErrorCode.IPFS_UNAVAILABLE,
        `${resource}: ${e instanceof Error ? e.message : e}`,
      )
    }
    if (!res.ok)
      throw new SiteError(SiteErrorCode.IPFS_UNAVAILABLE, `${resource}: HTTP ${res.status}`)
    return new Uint8Array(await res.arrayBuffer())
  }
  return {
    readPath: (root, path, o) =>
      read(`ipfs://${root}/${path.split('/').map(encodeURIComponent).join('/')}`, o?.signal),
    readCid: (cid, o) => read(`ipfs://${cid}`, o?.signal),
    stop: async () => {
      await vfetch.stop()
    },
  }
}

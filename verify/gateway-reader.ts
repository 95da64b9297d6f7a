import { fallbackRouter } from '@helia/fallback-router'
import { withHTTP } from '@helia/http'
import { createVerifiedFetch, type VerifiedFetch } from '@helia/verified-fetch'
import { createHeliaLight } from 'helia'
import { VerifyError, VerifyErrorCode } from './errors.ts'
import type { BundleReader } from './verify-result.ts'

/** A BundleReader backed by @helia/verified-fetch, plus a way to stop its Helia node. */
export interface VerifiedReader extends BundleReader {
  stop(): Promise<void>
}

/** Bytes read of one bundle file unless the user raises it: a bundle cannot exhaust the tab. */
export const DEFAULT_MAX_FILE_BYTES = 64 * 2 ** 20

/** Reads a body, refusing it once it passes `max` bytes (the whole file is never buffered first). */
async function cappedBytes(resource: string, res: Response, max: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new VerifyError(
      VerifyErrorCode.FILE_TOO_LARGE,
      `${resource}: larger than ${max} bytes (raise the limit to read it)`,
    )
  const declared = Number(res.headers.get('content-length') ?? Number.NaN)
  if (declared > max) {
    await res.body?.cancel()
    throw tooLarge()
  }
  if (!res.body) return new Uint8Array(await res.arrayBuffer())
  const parts: Uint8Array[] = []
  let total = 0
  const reader = res.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > max) {
      await reader.cancel()
      throw tooLarge()
    }
    parts.push(value)
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
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
export async function createVerifiedReader(
  gateways: readonly string[],
  options: { maxFileBytes?: () => number } = {},
): Promise<VerifiedReader> {
  const maxFileBytes = options.maxFileBytes ?? (() => DEFAULT_MAX_FILE_BYTES)
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
      throw new VerifyError(
        VerifyErrorCode.IPFS_UNAVAILABLE,
        `${resource}: ${e instanceof Error ? e.message : e}`,
      )
    }
    if (!res.ok)
      throw new VerifyError(VerifyErrorCode.IPFS_UNAVAILABLE, `${resource}: HTTP ${res.status}`)
    return cappedBytes(resource, res, maxFileBytes())
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

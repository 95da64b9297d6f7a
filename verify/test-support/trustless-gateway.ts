import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'

/** A running loopback server and how to stop it. */
export interface RunningServer {
  url: string
  close(): Promise<void>
}

/** Starts `server` on a free loopback port. */
export async function listen(server: Server): Promise<RunningServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The CORS and CORP headers a cross-origin-isolated page needs from every API it calls. */
export const CROSS_ORIGIN_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, OPTIONS',
  'cross-origin-resource-policy': 'cross-origin',
}

/**
 * A trustless gateway (raw blocks only: `GET /ipfs/{cid}` with `Accept: application/vnd.ipld.raw`
 * or `?format=raw`) over a blockstore. Clients verify every block against its CID, so this
 * server is trusted for nothing; it records the CIDs asked for so tests can see retrieval happen.
 */
export async function startTrustlessGateway(
  blocks: MemoryBlockstore,
): Promise<RunningServer & { requested: string[] }> {
  const requested: string[] = []
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway')
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CROSS_ORIGIN_HEADERS).end()
      return
    }
    const match = /^\/ipfs\/([^/]+)$/.exec(url.pathname)
    const wantsRaw =
      url.searchParams.get('format') === 'raw' ||
      (req.headers.accept ?? '').includes('application/vnd.ipld.raw')
    if (!match || !wantsRaw) {
      res.writeHead(400, { ...CROSS_ORIGIN_HEADERS, 'content-type': 'text/plain' })
      res.end('only raw block requests are served')
      return
    }
    let cid: CID
    try {
      cid = CID.parse(match[1]!)
    } catch {
      res.writeHead(400, CROSS_ORIGIN_HEADERS).end('bad cid')
      return
    }
    requested.push(cid.toString())
    if (!(await blocks.has(cid))) {
      res.writeHead(404, CROSS_ORIGIN_HEADERS).end('not found')
      return
    }
    const parts: Uint8Array[] = []
    for await (const p of blocks.get(cid) as AsyncIterable<Uint8Array>) parts.push(p)
    const body = Buffer.concat(parts)
    res.writeHead(200, {
      ...CROSS_ORIGIN_HEADERS,
      'content-type': 'application/vnd.ipld.raw',
      'content-length': body.length,
      'x-content-type-options': 'nosniff',
      'cache-control': 'public, max-age=29030400, immutable',
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  return { ...(await listen(server)), requested }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import type { Helia } from 'helia'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'

const RAW = 'application/vnd.ipld.raw'
const CAR = 'application/vnd.ipld.car'
const CAR_TYPE = `${CAR}; version=1; order=dfs; dups=n`
const DAG_PB = 0x70
const RAW_CODE = 0x55

/** Where the gateway reads blocks: only `has` and `get`, so any blockstore (or a fake) serves. */
export type GatewayBlocks = Pick<Blockstore, 'has' | 'get'>

/**
 * What the gateway serves from: blocks, and the pins that say which of them are the runner's to
 * publish. A Helia node is one. A block that is merely present (fetched, cached, written by
 * another tool into the same store) is not served: only blocks of a pinned DAG are.
 */
export interface GatewayStore {
  blockstore: GatewayBlocks
  pins: Pick<Helia['pins'], 'isPinned'>
}

/** Limits of a running gateway: what one slow or greedy client can hold. */
export interface GatewayLimits {
  /** A response whose client reads nothing for this long is cut (ms). */
  idleTimeoutMs: number
  /** Responses streaming at once; more are answered 503 with Retry-After. */
  maxStreams: number
}

/** Defaults: a reader stalled for 30 s is dropped, and 64 streams at once. */
export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = { idleTimeoutMs: 30_000, maxStreams: 64 }

class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

function sendError(res: ServerResponse, e: GatewayError, head: boolean): void {
  res.writeHead(e.status, { 'content-type': 'application/json' })
  res.end(head ? undefined : JSON.stringify({ error: { code: e.code, message: e.message } }))
}

/** CORS headers of every answer, preflight included. */
export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Accept, Range, Content-Type',
  'access-control-expose-headers': 'Content-Length, Content-Type, Etag, X-Ipfs-Path, X-Ipfs-Roots',
  'cross-origin-resource-policy': 'cross-origin',
}

/** Picks the response format from `?format=` or the Accept header, per the trustless gateway spec. */
export function negotiate(format: string | null, accept: string | undefined): 'raw' | 'car' | null {
  if (format === 'raw' || format === 'car') return format
  if (format !== null) return null
  for (const part of (accept ?? '').split(',')) {
    const type = part.split(';')[0]?.trim()
    if (type === RAW) return 'raw'
    if (type === CAR) return 'car'
  }
  return null
}

async function getBlock(store: GatewayStore, cid: CID): Promise<Uint8Array> {
  const blocks = store.blockstore
  // Same answer for "not pinned" and "absent": the gateway does not say what else it holds.
  // `offline` keeps a networked Helia blockstore from asking brokers for a block we do not hold.
  if (!(await store.pins.isPinned(cid)) || !(await blocks.has(cid)))
    throw new GatewayError(404, 'NOT_FOUND', `block ${cid} is not held by this gateway`)
  const opts = { offline: true } as Parameters<GatewayBlocks['get']>[1]
  const got = blocks.get(cid, opts) as unknown
  // interface-blockstore 6 returns an async iterable of chunks; 5 returned bytes.
  if (got instanceof Uint8Array) return got
  const awaited = await (got as Promise<Uint8Array> | AsyncIterable<Uint8Array>)
  if (awaited instanceof Uint8Array) return awaited
  const parts: Uint8Array[] = []
  for await (const p of awaited as AsyncIterable<Uint8Array>) parts.push(p)
  return Buffer.concat(parts)
}

function links(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== DAG_PB) return []
  return dagPb.decode(bytes).Links.map((l) => l.Hash)
}

function isUnixfsFile(bytes: Uint8Array): boolean {
  // UnixFS Data field 1 (Type) is varint; 2 = File, 0 = Raw. Directories (1) and HAMTs (5) are not files.
  const data = dagPb.decode(bytes).Data
  return data !== undefined && data[0] === 0x08 && (data[1] === 2 || data[1] === 0)
}

/** Yields the blocks of a DAG depth-first without duplicates, limited by `dag-scope`. */
async function* walk(
  blocks: GatewayStore,
  root: CID,
  scope: 'all' | 'entity' | 'block',
): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const seen = new Set<string>()
  const stack: { cid: CID; follow: boolean }[] = [{ cid: root, follow: scope !== 'block' }]
  while (stack.length > 0) {
    const { cid, follow } = stack.pop()!
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    const bytes = await getBlock(blocks, cid)
    yield { cid, bytes }
    if (!follow || (cid.code !== DAG_PB && cid.code !== RAW_CODE)) continue
    const children = links(cid, bytes)
    // entity scope of a directory is the directory node only; of a file, the whole file.
    const descend = scope === 'all' || (cid.code === DAG_PB && isUnixfsFile(bytes))
    if (!descend) continue
    for (let i = children.length - 1; i >= 0; i--) stack.push({ cid: children[i]!, follow: true })
  }
}

/** Waits for `drain`, or cuts the response when the client reads nothing for `ms`. */
function drained(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      res.off('drain', done)
      reject(new GatewayError(408, 'SLOW_READER', 'the client stopped reading'))
    }, ms)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    res.once('drain', done)
  })
}

/** Handles one request against a store of pinned blocks: the whole trustless gateway. */
export async function handleGatewayRequest(
  blocks: GatewayStore,
  req: IncomingMessage,
  res: ServerResponse,
  limits: Pick<GatewayLimits, 'idleTimeoutMs'> = DEFAULT_GATEWAY_LIMITS,
): Promise<void> {
  const head = req.method === 'HEAD'
  // Content is verified by its CID, so any page may read it: gateways answer CORS for everyone
  // (the page fetches from its own origin, cross-origin isolated).
  for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v)
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { 'access-control-max-age': '86400' })
    res.end()
    return
  }
  try {
    if (req.method !== 'GET' && !head)
      throw new GatewayError(405, 'METHOD_NOT_ALLOWED', 'only GET and HEAD')
    const url = new URL(req.url ?? '/', 'http://gateway')
    const m = /^\/ipfs\/([^/]+)(\/.*)?$/.exec(url.pathname)
    if (!m) throw new GatewayError(404, 'NOT_FOUND', 'expected /ipfs/{cid}')
    let cid: CID
    try {
      cid = CID.parse(m[1]!)
    } catch {
      throw new GatewayError(400, 'INVALID_CID', `not a CID: ${m[1]}`)
    }
    if (m[2] && m[2] !== '/')
      throw new GatewayError(
        400,
        'PATH_NOT_SUPPORTED',
        'this gateway serves CIDs without sub-paths',
      )
    const format = negotiate(url.searchParams.get('format'), req.headers.accept)
    if (!format)
      throw new GatewayError(
        406,
        'NOT_ACCEPTABLE',
        `a trustless gateway answers ${RAW} or ${CAR} (Accept or ?format=)`,
      )
    const common = {
      'cache-control': 'public, max-age=29030400, immutable',
      'x-content-type-options': 'nosniff',
      'x-ipfs-path': `/ipfs/${cid}`,
      'x-ipfs-roots': cid.toString(),
      vary: 'Accept',
    }
    if (format === 'raw') {
      const bytes = await getBlock(blocks, cid)
      res.writeHead(200, {
        ...common,
        'content-type': RAW,
        'content-length': bytes.length,
        etag: `"${cid}.raw"`,
      })
      res.end(head ? undefined : bytes)
      return
    }
    const scopeParam = url.searchParams.get('dag-scope') ?? 'all'
    if (scopeParam !== 'all' && scopeParam !== 'entity' && scopeParam !== 'block')
      throw new GatewayError(400, 'INVALID_DAG_SCOPE', 'dag-scope must be all, entity or block')
    if (url.searchParams.has('entity-bytes'))
      throw new GatewayError(400, 'NOT_SUPPORTED', 'entity-bytes is not supported')
    if (!(await blocks.pins.isPinned(cid)) || !(await blocks.blockstore.has(cid)))
      throw new GatewayError(404, 'NOT_FOUND', `block ${cid} is not held by this gateway`)
    res.writeHead(200, { ...common, 'content-type': CAR_TYPE, etag: `"${cid}.car.${scopeParam}"` })
    if (head) {
      res.end()
      return
    }
    const { writer, out } = CarWriter.create([cid])
    const pump = (async () => {
      for await (const chunk of out) if (!res.write(chunk)) await drained(res, limits.idleTimeoutMs)
    })()
    // A stalled reader fails the pump; the walk must stop with it, not buffer the whole DAG.
    let stalled: unknown
    pump.catch((e: unknown) => {
      stalled = e
    })
    try {
      for await (const block of walk(blocks, cid, scopeParam)) {
        if (stalled !== undefined) throw stalled
        await writer.put(block)
      }
    } finally {
      await writer.close()
    }
    await pump
    res.end()
  } catch (e) {
    if (res.headersSent) {
      // A missing block mid-CAR or a stalled reader: cut the stream (the client's verification
      // of a partial CAR fails loudly).
      res.destroy()
      return
    }
    // Never internal error text: it can name paths of the runner's data dir.
    const err = e instanceof GatewayError ? e : new GatewayError(500, 'INTERNAL', 'internal error')
    sendError(res, err, head)
  }
}

/**
 * A request handler with the gateway's limits: at most `maxStreams` answers at once (more get 503
 * and Retry-After), and a reader that stalls for `idleTimeoutMs` is cut.
 */
export function gatewayHandler(
  store: GatewayStore,
  limits: GatewayLimits = DEFAULT_GATEWAY_LIMITS,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  let active = 0
  return async (req, res) => {
    if (active >= limits.maxStreams) {
      for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v)
      res.setHeader('retry-after', '1')
      sendError(
        res,
        new GatewayError(503, 'BUSY', 'too many streams; retry'),
        req.method === 'HEAD',
      )
      return
    }
    active++
    let released = false
    const release = () => {
      if (!released) active--
      released = true
    }
    // 'close' fires for a finished answer and for a client gone mid-stream alike.
    res.once('close', release)
    try {
      await handleGatewayRequest(store, req, res, limits)
    } catch {
      res.destroy()
    }
  }
}

/** Starts the trustless gateway on `host:port` (port 0 picks a free one) and resolves once listening. */
export async function startGateway(
  store: GatewayStore,
  listen: string,
  limits: GatewayLimits = DEFAULT_GATEWAY_LIMITS,
): Promise<{ server: Server; url: string }> {
  const i = listen.lastIndexOf(':')
  const host = listen.slice(0, i)
  const handle = gatewayHandler(store, limits)
  const server = createServer((req, res) => void handle(req, res))
  // Slow clients: headers must arrive within 10 s and a whole request within 30 s; an idle socket
  // (a reader that stopped reading, a keep-alive left open) is dropped.
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  server.setTimeout(limits.idleTimeoutMs, (socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(Number(listen.slice(i + 1)), host, resolve)
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0
  return { server, url: `http://${host}:${port}` }
}

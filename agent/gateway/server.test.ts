import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { unixfs } from '@helia/unixfs'
import { CarReader } from '@ipld/car'
import { MemoryBlockstore } from 'blockstore-core'
import { createHeliaLight, type Helia } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayHandler, handleGatewayRequest, negotiate, startGateway } from './server.ts'

let helia: Helia
let server: Server
let base: string
let dirCid: string
let fileCid: string
let bigCid: string

beforeAll(async () => {
  helia = await createHeliaLight({
    blockstore: new MemoryBlockstore(),
    blockBrokers: [],
    routers: [],
  }).start()
  const fs = unixfs(helia)
  const file = await fs.addBytes(new Uint8Array(3 * 2 ** 20).fill(9))
  let dir = await fs.addDirectory()
  dir = await fs.cp(file, dir, 'big.bin')
  dirCid = dir.toString()
  fileCid = file.toString()
  // Random bytes: a CAR larger than loopback's socket buffers, so a reader that stops stalls it.
  const big = await fs.addBytes(randomBytes(32 * 2 ** 20))
  bigCid = big.toString()
  for (const cid of [dir, big]) for await (const _ of helia.pins.add(cid)) void _
  server = createServer((req, res) => void handleGatewayRequest(helia, req, res))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const a = server.address()
  base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
})
afterAll(async () => {
  server.close()
  await helia.stop()
})

async function carBlocks(res: Response): Promise<string[]> {
  const reader = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()))
  const out: string[] = []
  for await (const b of reader.blocks()) out.push(b.cid.toString())
  return out
}

describe('trustless gateway', () => {
  it.each([
    [null, 'application/vnd.ipld.raw', 'raw'],
    [null, 'text/html, application/vnd.ipld.car; version=1', 'car'],
    ['car', undefined, 'car'],
    ['json', undefined, null],
    [null, 'text/html', null],
  ])('negotiate(%j, %j) = %j', (format, accept, expected) => {
    expect(negotiate(format, accept)).toBe(expected)
  })

  it('serves a raw block', async () => {
    const res = await fetch(`${base}/ipfs/${dirCid}`, {
      headers: { accept: 'application/vnd.ipld.raw' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.ipld.raw')
    const bytes = new Uint8Array(await res.arrayBuffer())
    const parts: Uint8Array[] = []
    for await (const p of helia.blockstore.get(
      (await import('multiformats/cid')).CID.parse(dirCid),
    ))
      parts.push(p)
    expect(Buffer.from(bytes)).toEqual(Buffer.concat(parts))
  })

  it('lets any origin read, preflight included (content is checked by its CID, not by origin)', async () => {
    const pre = await fetch(`${base}/ipfs/${dirCid}`, {
      method: 'OPTIONS',
      headers: { origin: 'http://page.example', 'access-control-request-method': 'GET' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-methods')).toContain('GET')
    const res = await fetch(`${base}/ipfs/${dirCid}?format=raw`, {
      headers: { origin: 'http://page.example' },
    })
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const missing = await fetch(`${base}/ipfs/not-a-cid`, {
      headers: { accept: 'application/vnd.ipld.raw' },
    })
    expect(missing.status).toBe(400)
    expect(missing.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('serves a CAR with dag-scope all, entity and block', async () => {
    const all = await carBlocks(await fetch(`${base}/ipfs/${dirCid}?format=car`))
    expect(all[0]).toBe(dirCid)
    // dir + file root + one leaf: the three identical 1 MiB leaves are one block (dups=n).
    expect(all).toHaveLength(3)
    expect(
      await carBlocks(await fetch(`${base}/ipfs/${dirCid}?format=car&dag-scope=block`)),
    ).toEqual([dirCid])
    expect(
      await carBlocks(await fetch(`${base}/ipfs/${dirCid}?format=car&dag-scope=entity`)),
    ).toEqual([dirCid])
    const entity = await carBlocks(
      await fetch(`${base}/ipfs/${fileCid}?format=car&dag-scope=entity`),
    )
    expect(entity.length).toBe(all.length - 1)
  })

  it('answers HEAD without a body', async () => {
    const res = await fetch(`${base}/ipfs/${dirCid}?format=raw`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBeTruthy()
  })

  it.each([
    ['/ipfs/not-a-cid?format=raw', 400, 'INVALID_CID'],
    [
      '/ipfs/bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq?format=raw',
      404,
      'NOT_FOUND',
    ],
    ['/ipfs/CID?format=car&dag-scope=nope', 400, 'INVALID_DAG_SCOPE'],
    ['/ipfs/CID', 406, 'NOT_ACCEPTABLE'],
    ['/elsewhere', 404, 'NOT_FOUND'],
  ])('%s → %i %s', async (path, status, code) => {
    const res = await fetch(`${base}${path.replace('CID', dirCid)}`)
    expect(res.status).toBe(status)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code)
  })
})

describe('the gateway serves only what it should', () => {
  it('does not serve a block that is present but not pinned, raw or as a CAR', async () => {
    const bytes = new TextEncoder().encode('cached, never pinned')
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await helia.blockstore.put(cid, bytes)
    expect(await helia.blockstore.has(cid)).toBe(true)
    for (const format of ['raw', 'car']) {
      const res = await fetch(`${base}/ipfs/${cid}?format=${format}`)
      expect(res.status).toBe(404)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
    }
  })

  it('cuts a reader that stops reading, and caps concurrent streams meanwhile', async () => {
    const gw = await startGateway(helia, '127.0.0.1:0', { idleTimeoutMs: 500, maxStreams: 1 })
    try {
      const { port } = new URL(gw.url)
      const slow = connect(Number(port), '127.0.0.1')
      slow.on('error', () => undefined)
      await new Promise<void>((r) => slow.once('connect', () => r()))
      slow.write(`GET /ipfs/${bigCid}?format=car HTTP/1.1\r\nHost: x\r\n\r\n`)
      // Read the first bytes, then stop reading: the server's writes back up.
      let received = 0
      await new Promise<void>((r) =>
        slow.once('data', (chunk: Buffer) => {
          received += chunk.length
          r()
        }),
      )
      slow.pause()
      const busy = await fetch(`${gw.url}/ipfs/${dirCid}?format=raw`)
      expect(busy.status).toBe(503)
      expect(busy.headers.get('retry-after')).toBe('1')
      expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('BUSY')
      // Past the idle timeout the stalled stream is cut and its slot is free again.
      await expect
        .poll(async () => (await fetch(`${gw.url}/ipfs/${dirCid}?format=raw`)).status, {
          timeout: 10_000,
          interval: 250,
        })
        .toBe(200)
      // What was already in the socket buffers arrives, then the connection ends: never the whole CAR.
      slow.on('data', (chunk: Buffer) => {
        received += chunk.length
      })
      const closed = new Promise<void>((r) => slow.once('close', () => r()))
      slow.resume()
      await closed
      expect(received).toBeLessThan(32 * 2 ** 20)
    } finally {
      gw.server.closeAllConnections()
      await new Promise((r) => gw.server.close(r))
    }
  }, 30_000)

  it('never answers internal error text', async () => {
    const handle = gatewayHandler({
      blockstore: helia.blockstore,
      pins: {
        isPinned: async () => {
          throw new Error('EACCES /home/runner/.zkrunner/runner-key.json')
        },
      },
    })
    const broken = createServer((req, res) => void handle(req, res))
    await new Promise<void>((r) => broken.listen(0, '127.0.0.1', r))
    try {
      const a = broken.address()
      const port = typeof a === 'object' && a ? a.port : 0
      const res = await fetch(`http://127.0.0.1:${port}/ipfs/${dirCid}?format=raw`)
      expect(res.status).toBe(500)
      const text = await res.text()
      expect(text).not.toContain('runner-key')
      expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } })
    } finally {
      await new Promise((r) => broken.close(r))
    }
  })
})

import { createServer, type Server } from 'node:http'
import { unixfs } from '@helia/unixfs'
import { CarReader } from '@ipld/car'
import { MemoryBlockstore } from 'blockstore-core'
import { createHeliaLight, type Helia } from 'helia'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleGatewayRequest, negotiate } from './server.ts'

let helia: Helia
let server: Server
let base: string
let dirCid: string
let fileCid: string

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
  server = createServer((req, res) => void handleGatewayRequest(helia.blockstore, req, res))
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

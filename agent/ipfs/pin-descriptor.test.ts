import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import type { Helia } from 'helia'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { canonicalBytes, parseServiceDescriptor, unwrap } from '../../protocol/index.ts'
import { openIpfsNode } from './node.ts'
import { pinServiceDescriptor } from './pin-descriptor.ts'

let dir: string
let helia: Helia

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-descriptor-'))
  helia = await openIpfsNode({ dataDir: dir })
})

afterAll(async () => {
  await helia?.stop()
  await rm(dir, { recursive: true, force: true })
})

const example = async () =>
  JSON.parse(
    await readFile(new URL('../../examples/lint-docs/service.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>

it('pins the parsed, defaults-filled canonical JSON under the CID it returns', async () => {
  // Written without its defaults (description, parameters): what is pinned has them.
  const { description: _, parameters: __, ...sparse } = await example()
  const descriptor = unwrap(parseServiceDescriptor(sparse))
  const cid = CID.parse(await pinServiceDescriptor(helia, descriptor))
  expect(cid.code).toBe(0x55)
  expect(await helia.pins.isPinned(cid)).toBe(true)
  const parts: Uint8Array[] = []
  for await (const p of helia.blockstore.get(cid)) parts.push(p)
  const pinned = JSON.parse(Buffer.concat(parts).toString('utf8'))
  expect(pinned).toEqual({ ...sparse, description: '', parameters: [] })
  // The CID is the one the stack's importer used to give the same bytes (one raw leaf), so
  // descriptors pinned before keep their CIDs; pinning again is a no-op.
  const imported = await unixfs(helia).addBytes(canonicalBytes(descriptor), { rawLeaves: true })
  expect(imported.equals(cid)).toBe(true)
  expect(await pinServiceDescriptor(helia, descriptor)).toBe(cid.toString())
})

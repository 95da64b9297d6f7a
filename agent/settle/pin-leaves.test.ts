import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Helia } from 'helia'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type SettledLeaves, settledLeavesBytes } from '../../protocol/index.ts'
import { keys } from '../../protocol/vectors/inputs.ts'
import { openIpfsNode } from '../ipfs/node.ts'
import { pinSettledLeaves } from './pin-leaves.ts'

let dir: string
let helia: Helia

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-leaves-'))
  helia = await openIpfsNode({ dataDir: dir })
})

afterAll(async () => {
  await helia?.stop()
  await rm(dir, { recursive: true, force: true })
})

const doc: SettledLeaves = {
  v: 1,
  service: keys.service.publicKey,
  user: keys.user.publicKey,
  manifestDigests: ['ab'.repeat(32), 'cd'.repeat(32)],
}

it('pins the canonical bytes as one raw block, and pinning again is a no-op', async () => {
  const cid = await pinSettledLeaves(helia, doc)
  expect(cid.code).toBe(0x55)
  expect(await helia.pins.isPinned(cid)).toBe(true)
  const parts: Uint8Array[] = []
  for await (const p of helia.blockstore.get(cid)) parts.push(p)
  expect(new Uint8Array(Buffer.concat(parts))).toEqual(settledLeavesBytes(doc))
  expect((await pinSettledLeaves(helia, doc)).equals(cid)).toBe(true)
})

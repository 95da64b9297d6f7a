import { unixfs } from '@helia/unixfs'
import type { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import type { BundleReader } from '../verify-result.ts'

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A BundleReader over a local blockstore with @helia/unixfs (which checks blocks by CID). */
export function memoryBundleReader(blocks: MemoryBlockstore): BundleReader {
  const fs = unixfs({ blockstore: blocks })
  return {
    readPath: (root, path) => collect(fs.cat(CID.parse(root), { path })),
    readCid: async (cid) => {
      const parsed = CID.parse(cid)
      if (parsed.code === 0x55) return collect(blocks.get(parsed) as AsyncIterable<Uint8Array>)
      return collect(fs.cat(parsed))
    },
  }
}

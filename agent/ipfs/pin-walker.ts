import * as dagPb from '@ipld/dag-pb'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'

type PinOptions = NonNullable<Parameters<Helia['pins']['add']>[1]>
/** The walker factory type `pins.add` takes. */
export type WalkerFactory = NonNullable<PinOptions['walker']>
type Walker = ReturnType<WalkerFactory>
type Node = Awaited<ReturnType<ReturnType<Walker['walk']>['next']>>['value'] & object

/**
 * A depth-first walker for UnixFS bundles that does not read raw leaves: they hold file bytes and
 * no links, and pinning needs only their CIDs (checked present with `has`). Only the few dag-pb
 * nodes are read and decoded, so pinning a large file costs a stat per block, not a second read.
 */
export const leafSkippingWalker: WalkerFactory = ({ blockstore }) => ({
  async *walk(root, options) {
    const maxDepth = options?.depth ?? Number.POSITIVE_INFINITY
    const stack: { cid: CID; depth: number; path: CID[] }[] = [
      { cid: root, depth: 0, path: [root] },
    ]
    while (stack.length > 0) {
      const { cid, depth, path } = stack.pop()!
      if (cid.code === raw.code) {
        if (!(await blockstore.has(cid, options)))
          throw Object.assign(new Error(`block ${cid} is missing`), { name: 'NotFoundError' })
        yield { block: { cid }, depth, path } as unknown as Node
        continue
      }
      if (cid.code !== dagPb.code)
        throw new Error(`unexpected codec 0x${cid.code.toString(16)} in a bundle`)
      const chunks: Uint8Array[] = []
      for await (const c of blockstore.get(cid, options) as AsyncIterable<Uint8Array>)
        chunks.push(c)
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      const links = dagPb.decode(bytes).Links
      if (depth < maxDepth)
        for (const link of [...links].reverse())
          stack.push({ cid: link.Hash, depth: depth + 1, path: [...path, link.Hash] })
      yield { block: { cid, bytes }, depth, path } as unknown as Node
    }
  },
})

import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'

/**
 * Stores one raw block under a CID the caller computed (protocol computes every CID that is
 * signed or frozen on chain, never an importer) and pins it. Idempotent: the same bytes under
 * the same CID are stored and pinned once.
 */
export async function pinRawBlock(
  helia: Pick<Helia, 'blockstore' | 'pins'>,
  cid: CID,
  bytes: Uint8Array,
  options?: { signal?: AbortSignal },
): Promise<void> {
  await helia.blockstore.put(cid, bytes, options)
  if (!(await helia.pins.isPinned(cid, options))) {
    for await (const _ of helia.pins.add(cid, options)) {
      // One raw block: nothing to walk.
    }
  }
}

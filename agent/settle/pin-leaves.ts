import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import { type SettledLeaves, settledLeavesBytes, settledLeavesCid } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { pinRawBlock } from '../ipfs/pin-raw-block.ts'

/**
 * Stores the SettledLeaves document as one raw block and pins it, in the blockstore the agent's
 * gateway serves, so the page can read a settlement's leaves from the chain and IPFS alone.
 * Idempotent (same document, same CID, pinned once): a resumed settle pins it again harmlessly.
 */
export async function pinSettledLeaves(
  helia: Pick<Helia, 'blockstore' | 'pins'>,
  doc: SettledLeaves,
  options?: { signal?: AbortSignal },
): Promise<CID> {
  // The CID is computed by protocol, not by an importer, so it is exactly the one the runner
  // signs and the page recomputes; the document is small enough for one block.
  const cid = settledLeavesCid(doc)
  try {
    await pinRawBlock(helia, cid, settledLeavesBytes(doc), options)
  } catch (e) {
    throw new AgentError(
      AgentErrorCode.IPFS_FAILED,
      `pinning the settled leaves ${cid}: ${(e as Error).message}`,
      { cause: e },
    )
  }
  return cid
}

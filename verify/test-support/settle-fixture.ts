import type { MemoryBlockstore } from 'blockstore-core/memory'
import {
  cidToFields,
  publicKeyToFields,
  settledLeavesBytes,
  settledLeavesCid,
  toHex,
  unwrap,
} from '../../protocol/index.ts'
import { computeResultsRoot } from '../results-root.ts'

/**
 * Settles `digests` (leaf i = the i-th job) of `user` with `service` as the runner does: the
 * SettledLeaves document put in `blocks` (the gateway's), and the Settle event's fields naming
 * its CID and the results root the contract would compute (o1js Poseidon). `price` credits per
 * job, all `digests` paid.
 */
export async function settleFixture(
  blocks: MemoryBlockstore,
  owner: { service: string; user: string },
  digests: readonly Uint8Array[],
  opts: { price?: bigint; nonce?: bigint } = {},
): Promise<bigint[]> {
  const doc = {
    v: 1 as const,
    service: owner.service,
    user: owner.user,
    manifestDigests: digests.map(toHex),
  }
  const cid = settledLeavesCid(doc)
  await blocks.put(cid, settledLeavesBytes(doc))
  const [c0, c1] = unwrap(cidToFields(cid))
  const [ux, uOdd] = unwrap(publicKeyToFields(owner.user))
  const price = opts.price ?? 5n
  const jobs = BigInt(digests.length)
  const root = computeResultsRoot(owner, digests)
  return [3n, ux, uOdd, price * jobs, opts.nonce ?? 1n, price * jobs, jobs, root, c0, c1]
}

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
import { claimData } from './ledger-double.ts'

/**
 * Settles `digests` (leaf i = the i-th job) of `user` with `service` as the runner does: the
 * SettledLeaves document put in `blocks` (the gateway's), and the fields of the Claim event the
 * runner's claim emits on the service's ledger, naming its CID and the results root the contract
 * would compute (o1js Poseidon). `price` credits per job, all `digests` paid (the ledger double's
 * book applies the claim).
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
  return claimData([ux, uOdd], {
    amount: price * jobs,
    nonce: opts.nonce ?? 1n,
    root,
    count: jobs,
    cid: [c0, c1],
  })
}

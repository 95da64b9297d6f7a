import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { z } from 'zod'
import { sha256 } from './digest.ts'
import { canonicalBytes } from './encoding.ts'
import type { Result } from './errors.ts'
import { parseWith } from './parse.ts'
import { PublicKeySchema, Sha256HexSchema } from './primitives.ts'

/** Leaves of one results tree (contracts' RESULTS_TREE_HEIGHT 11: 2^10 leaves); a longer list has no root. */
export const MAX_SETTLED_LEAVES = 1024

/**
 * The public leaf list of a user's settled results root with one service: pinned by the runner,
 * its CID signed in the claim and emitted in the ledger's Claim event, so anyone can rebuild the
 * root from the chain and IPFS alone (no browser's memory of which jobs it requested).
 */
export const SettledLeavesSchema = z.strictObject({
  v: z.literal(1),
  /** The service contract's address. */
  service: PublicKeySchema,
  user: PublicKeySchema,
  /** Manifest digests of every settled job of the user with the service, leaf i = i-th settled job. */
  manifestDigests: z.array(Sha256HexSchema).max(MAX_SETTLED_LEAVES),
})
/** The leaf list behind a channel's results root. */
export type SettledLeaves = z.infer<typeof SettledLeavesSchema>

/** Validates an untrusted settled-leaves document. */
export const parseSettledLeaves = (input: unknown): Result<SettledLeaves> =>
  parseWith(SettledLeavesSchema, input)

/** The bytes that are pinned: the document's canonical JSON. */
export const settledLeavesBytes = (doc: SettledLeaves): Uint8Array => canonicalBytes(doc)

/** The raw-codec CIDv1 (sha2-256) of the pinned bytes: what the settlement signs and the chain records. */
export function settledLeavesCid(doc: SettledLeaves): CID {
  const digest = createDigest(sha256Hasher.code, sha256(settledLeavesBytes(doc)))
  return CID.createV1(raw.code, digest)
}

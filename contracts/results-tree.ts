import { Field, MerkleTree, MerkleWitness, Poseidon } from 'o1js'
import { manifestMessage } from '../protocol/index.ts'

/** Height of a user's results tree: 2^10 = 1,024 settled jobs a user and service version. */
export const RESULTS_TREE_HEIGHT = 11

/** A Merkle path in a results tree. */
export class ResultWitness extends MerkleWitness(RESULTS_TREE_HEIGHT) {}

/** The leaf of one job result: Poseidon(manifestMessage(digest of its manifest)). */
export function resultLeaf(manifestDigest: Uint8Array): Field {
  return Poseidon.hash(manifestMessage(manifestDigest).map((f) => Field(f)))
}

/** The results tree of a user's settled jobs, leaf i being the i-th job's manifest digest. */
export function resultsTree(manifestDigests: readonly Uint8Array[]): MerkleTree {
  const tree = new MerkleTree(RESULTS_TREE_HEIGHT)
  if (manifestDigests.length > tree.leafCount) throw new RangeError('too many results for one tree')
  manifestDigests.forEach((d, i) => {
    tree.setLeaf(BigInt(i), resultLeaf(d))
  })
  return tree
}

/** The root the runner signs in a settlement covering `manifestDigests`. */
export function resultsRoot(manifestDigests: readonly Uint8Array[]): Field {
  return resultsTree(manifestDigests).getRoot()
}

/** The witness that job `index` is in the tree of `manifestDigests`. */
export function resultWitness(
  manifestDigests: readonly Uint8Array[],
  index: number,
): ResultWitness {
  return new ResultWitness(resultsTree(manifestDigests).getWitness(BigInt(index)))
}

/** True when `manifestDigest` is leaf `witness` of the tree whose root is `root`. */
export function verifyResult(
  root: Field,
  manifestDigest: Uint8Array,
  witness: ResultWitness,
): boolean {
  return witness.calculateRoot(resultLeaf(manifestDigest)).equals(root).toBoolean()
}

import { Field, MerkleTree, MerkleWitness, Poseidon } from 'o1js'
import { resultLeafMessage } from '../protocol/index.ts'

/** Height of a user's results tree: 2^10 = 1,024 settled jobs a user and service version. */
export const RESULTS_TREE_HEIGHT = 11

/** Leaves of a results tree. */
export const RESULTS_TREE_LEAVES = 2 ** (RESULTS_TREE_HEIGHT - 1)

/** A Merkle path in a results tree. */
export class ResultWitness extends MerkleWitness(RESULTS_TREE_HEIGHT) {}

/** Whose results a tree holds: base58 addresses of the service contract and the paying user. */
export interface ResultsOwner {
  service: string
  user: string
}

/** The leaf of one job result: Poseidon(resultLeafMessage(service, user, manifest digest)). */
export function resultLeaf(owner: ResultsOwner, manifestDigest: Uint8Array): Field {
  return Poseidon.hash(resultLeafMessage({ ...owner, digest: manifestDigest }).map((f) => Field(f)))
}

/** The results tree of a user's settled jobs, leaf i being the i-th job's manifest digest. */
export function resultsTree(
  owner: ResultsOwner,
  manifestDigests: readonly Uint8Array[],
): MerkleTree {
  const tree = new MerkleTree(RESULTS_TREE_HEIGHT)
  if (manifestDigests.length > tree.leafCount) throw new RangeError('too many results for one tree')
  manifestDigests.forEach((d, i) => {
    tree.setLeaf(BigInt(i), resultLeaf(owner, d))
  })
  return tree
}

/** The root the runner signs in a settlement covering `manifestDigests`. */
export function resultsRoot(owner: ResultsOwner, manifestDigests: readonly Uint8Array[]): Field {
  return resultsTree(owner, manifestDigests).getRoot()
}

/** The witness that job `index` is in the tree of `manifestDigests`. */
export function resultWitness(
  owner: ResultsOwner,
  manifestDigests: readonly Uint8Array[],
  index: number,
): ResultWitness {
  return new ResultWitness(resultsTree(owner, manifestDigests).getWitness(BigInt(index)))
}

/** True when `manifestDigest` is leaf `witness` of the tree whose root is `root`. */
export function verifyResult(
  root: Field,
  owner: ResultsOwner,
  manifestDigest: Uint8Array,
  witness: ResultWitness,
): boolean {
  return witness.calculateRoot(resultLeaf(owner, manifestDigest)).equals(root).toBoolean()
}

/**
 * What a settlement proves about its tree, besides the runner's signature: the last leaf (index
 * count − 1) is a result of this service and user, and the leaf after it (index count) is empty,
 * so the tree holds no more leaves than the count it is paid for. Count 0 has neither.
 */
export interface ResultsCountProof {
  lastDigest: Uint8Array
  lastWitness: ResultWitness
  nextWitness: ResultWitness
}

/** The count proof of `manifestDigests` (the whole list as the new tree). */
export function resultsCountProof(
  owner: ResultsOwner,
  manifestDigests: readonly Uint8Array[],
): ResultsCountProof {
  const n = manifestDigests.length
  if (n === 0) throw new RangeError('a settlement adds at least one result')
  const tree = resultsTree(owner, manifestDigests)
  return {
    lastDigest: manifestDigests[n - 1]!,
    lastWitness: new ResultWitness(tree.getWitness(BigInt(n - 1))),
    // A full tree has no next leaf: the contract skips the check at capacity (any path will do).
    nextWitness: new ResultWitness(tree.getWitness(BigInt(n < RESULTS_TREE_LEAVES ? n : n - 1))),
  }
}

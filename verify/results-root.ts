import { type ResultsOwner, resultsRoot } from '../contracts/results-tree.ts'

// The contract's own results-tree definition (o1js Poseidon Merkle tree): imported, never copied,
// so the page computes exactly the root the contract checks. It pulls in o1js, so the page only
// loads this module inside the prover web worker.

/** The results-tree root of a user's manifest digests with a service (leaf i = the i-th settled job). */
export function computeResultsRoot(owner: ResultsOwner, digests: readonly Uint8Array[]): bigint {
  return resultsRoot(owner, digests).toBigInt()
}

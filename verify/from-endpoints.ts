import { Field, Poseidon } from 'o1js'
import type { GenuineCode } from '../protocol/index.ts'
import { GraphqlChainReader } from './chain-reader.ts'
import { createVerifiedReader } from './gateway-reader.ts'
import type { VerificationLink } from './links.ts'
import { computeResultsRoot } from './results-root.ts'
import { settledResultsFrom } from './settled-leaves.ts'
import { type VerifyOutcome, type VerifyTarget, verifyResult } from './verify-result.ts'

// The verifier's readers assembled for Node (the local stack, `zkrunner verify`, the agent): the
// chain reader, verified IPFS retrieval, genuine-and-frozen check and settled-leaves reader, with
// o1js's Poseidon in process where the page asks its prover worker. One assembly, so the stack,
// the CLI and the agent cannot drift from each other or from the page.

/** What verification reads from: a Mina node, an archive, trustless gateways, the genuine code. */
export interface VerifyEndpoints {
  minaGraphqlUrl: string
  archiveUrl: string
  gateways: readonly string[]
  /** What a genuine service is compared with (the deployment's compiled contracts). */
  genuine: { creditTokenId: string; code: GenuineCode }
}

/** Verifies `target` exactly as the page does, from the gateways and the chain alone. */
export async function verifyFromEndpoints(
  endpoints: VerifyEndpoints,
  target: VerifyTarget,
  onLink: (l: VerificationLink) => void = () => {},
  options: { signal?: AbortSignal } = {},
): Promise<VerifyOutcome> {
  const reader = await createVerifiedReader(endpoints.gateways)
  try {
    return await verifyResult(
      target,
      {
        bundle: reader,
        chain: new GraphqlChainReader(endpoints.minaGraphqlUrl, endpoints.archiveUrl),
        genuine: endpoints.genuine,
        poseidon: async (fields) => Poseidon.hash(fields.map((f) => Field(f))).toBigInt(),
        // The leaves come from the document the Settle event names, as on the page.
        settled: settledResultsFrom(reader, async (owner, digests) =>
          computeResultsRoot(owner, digests),
        ),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      onLink,
    )
  } finally {
    await reader.stop()
  }
}

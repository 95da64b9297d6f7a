import { Field, Poseidon } from 'o1js'
import type { GenuineCode } from '../protocol/index.ts'
import { GraphqlChainReader } from './chain-reader.ts'
import { createVerifiedReader } from './gateway-reader.ts'
import type { VerificationLink } from './links.ts'
import { computeResultsRoot } from './results-root.ts'
import { revealsInRegistry } from './reveals.ts'
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
  /**
   * The registry, where a private service's operator lists its reveal; without it a private
   * service's source link stays "private (committed)" even after a reveal.
   */
  registryAddress?: string
}

/** Verifies `target` exactly as the page does, from the gateways and the chain alone. */
export async function verifyFromEndpoints(
  endpoints: VerifyEndpoints,
  target: VerifyTarget,
  onLink: (l: VerificationLink) => void = () => {},
  options: { signal?: AbortSignal } = {},
): Promise<VerifyOutcome> {
  const reader = await createVerifiedReader(endpoints.gateways)
  const chain = new GraphqlChainReader(endpoints.minaGraphqlUrl, endpoints.archiveUrl)
  const poseidon = async (fields: bigint[]) => Poseidon.hash(fields.map((f) => Field(f))).toBigInt()
  const registry = endpoints.registryAddress
  try {
    return await verifyResult(
      target,
      {
        bundle: reader,
        chain,
        genuine: endpoints.genuine,
        poseidon,
        ...(registry
          ? { reveals: (service: string) => revealsInRegistry(chain, registry, service, poseidon) }
          : {}),
        // The leaves come from the document the Claim event names, as on the page.
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

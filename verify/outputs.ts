import {
  type ManifestOutput,
  type OutputSpec,
  outputsDigest,
  outputsLayoutProblem,
  type ResultManifest,
} from '../protocol/index.ts'

/** A result's typed outputs as the page and `zkrunner verify` show them. */
export interface OutputsSummary {
  /** False when the job's outputs did not match its service's declarations (outputs-invalid). */
  valid: boolean
  values: ManifestOutput[]
  problems: string[]
  /** Poseidon digest of the outputs' Fields (protocol's outputsDigest), decimal. */
  outputsDigest: string
  /**
   * Whether the outputs are laid out as the on-chain descriptor declares: `matches`, the problem,
   * or `unknown` when the descriptor could not be read.
   */
  declaration: string
}

/**
 * The outputs of a manifest, their digest, and their check against the service's declarations
 * (null when the descriptor was not read). Null for a result without outputs whose service
 * declares none. The values come from the signed manifest: the manifest link vouches for them.
 */
export function outputsSummary(
  manifest: ResultManifest,
  specs: readonly OutputSpec[] | null,
): OutputsSummary | null {
  if (manifest.outputs === undefined && (specs === null || (specs?.length ?? 0) === 0)) return null
  const o = manifest.outputs ?? { valid: false, values: [], problems: [] }
  const problem = specs === null ? null : outputsLayoutProblem(specs, manifest.outputs)
  return {
    valid: o.valid,
    values: o.values,
    problems: o.problems,
    outputsDigest: String(outputsDigest(manifest.outputs)),
    declaration: specs === null ? 'unknown' : (problem ?? 'matches'),
  }
}

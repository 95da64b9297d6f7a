import { z } from 'zod'
import { canonicalBytes } from './encoding.ts'
import { fail, ok, type Result } from './errors.ts'
import { parseWith } from './parse.ts'
import { PublicKeySchema } from './primitives.ts'
import { PrivateCoordinatesSchema } from './service-registration.ts'
import {
  opensCommitment,
  PrivateCommitmentSchema,
  type SourceOpening,
} from './source-commitment.ts'

/**
 * The opening of a private service's source commitment, published by its operator when the code
 * goes public: pinned to IPFS, its CID listed in the registry by the operator's key (a Published
 * event of the service naming this document rather than the descriptor). Readers check it opens
 * the commitment frozen in the contract; only then is the source linked, for every past result.
 */
export const SourceRevealSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('zkrunner/source-reveal'),
  /** The service contract whose commitment this opens. */
  service: PublicKeySchema,
  /** The commitment it opens, as the descriptor states it. */
  commitment: PrivateCommitmentSchema,
  provider: z.enum(['gitlab', 'github']),
  ...PrivateCoordinatesSchema.shape,
})
/** A published opening of a private service's source commitment. */
export type SourceReveal = z.infer<typeof SourceRevealSchema>

/** Reveal documents are small: anything larger is refused before it is parsed. */
export const MAX_REVEAL_BYTES = 16_384

/** Validates an untrusted reveal document from its bytes (JSON, at most MAX_REVEAL_BYTES). */
export function parseSourceReveal(bytes: Uint8Array): Result<SourceReveal> {
  if (bytes.length > MAX_REVEAL_BYTES)
    return fail('INVALID_FIELD', `a reveal document is at most ${MAX_REVEAL_BYTES} bytes`)
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes))
  } catch {
    return fail('MALFORMED_JSON', 'the reveal document is not UTF-8 JSON')
  }
  return parseWith(SourceRevealSchema, json)
}

/** The bytes pinned for a reveal: its canonical JSON. */
export const sourceRevealBytes = (reveal: SourceReveal): Uint8Array => canonicalBytes(reveal)

/** The opening a reveal states. */
export const revealOpening = (r: SourceReveal): SourceOpening => ({
  salt: r.salt,
  providerUrl: r.providerUrl,
  project: r.project,
  commit: r.commit,
})

/**
 * Checks a reveal against a service: it names the service, and its opening opens the commitment
 * frozen in the service contract (`commitmentField`, state field 0). WRONG_OPENING otherwise.
 */
export function checkSourceReveal(
  reveal: SourceReveal,
  service: { address: string; commitmentField: bigint },
): Result<SourceReveal> {
  if (reveal.service !== service.address)
    return fail('INVALID_FIELD', `the reveal is for service ${reveal.service}`, ['service'])
  if (!opensCommitment(revealOpening(reveal), service.commitmentField))
    return fail(
      'WRONG_OPENING',
      'the revealed salt, provider URL, project and commit do not open the commitment frozen in the service contract',
    )
  return ok(reveal)
}

/** How far a private service is toward the reveal its descriptor promises. */
export interface RevealGoalProgress {
  goal: bigint
  earned: bigint
  reached: boolean
  /** Whole percent, 0–100 (earned beyond the goal reads 100). */
  percent: number
}

/**
 * Progress toward a descriptor's `revealGoal` from the credits the version's ledger paid its
 * runner (the chain's `runnerPaid`, never the Worker's word). A goal of 0 is reached at once.
 */
export function revealGoalProgress(goal: bigint, earned: bigint): RevealGoalProgress {
  const reached = earned >= goal
  const percent = reached ? 100 : Number((earned * 100n) / goal)
  return { goal, earned, reached, percent }
}

import { z } from 'zod'
import { FIELD_MODULUS } from './mina-key.ts'
import { poseidonHashWithPrefix } from './poseidon.ts'
import { CommitShaSchema } from './primitives.ts'

// A service's source commitment, state field 0 of its contract. A public service commits to its
// commit SHA-1 in the clear (the integer of its 40 hex digits). A private service commits to
// Poseidon(salt, provider URL, project, commit): hiding while the salt is secret (31 random bytes),
// binding under Poseidon, and a Field like any other, so the contract stores it unchanged.

/** Poseidon prefix of a private service's source commitment (o1js `Poseidon.hashWithPrefix`). */
export const SOURCE_COMMITMENT_PREFIX = 'zkrunner/source/v1'

// zod runs refinements after a failed regex too: the hex is checked again before BigInt reads it.
const belowModulus = (s: string): boolean =>
  /^poseidon:[0-9a-f]{64}$/.test(s) && BigInt(`0x${s.slice(9)}`) < FIELD_MODULUS

/** A private commitment as text: `poseidon:` and the Field in 64 lower-case hex digits. */
export const PrivateCommitmentSchema = z
  .string()
  .regex(/^poseidon:[0-9a-f]{64}$/, 'must be poseidon: and 64 lower-case hex digits')
  .refine((s) => belowModulus(s), 'must be below the field modulus')

/**
 * A service version's source commitment: a public commit SHA-1 or a private Poseidon commitment.
 * One pattern (not a union) so the generated JSON Schema says it in one keyword.
 */
export const SourceCommitmentSchema = z
  .string()
  .regex(
    /^(?:[0-9a-f]{40}|poseidon:[0-9a-f]{64})$/,
    'must be a 40-digit lower-case hex commit SHA or poseidon: and 64 hex digits',
  )
  .refine((s) => !s.startsWith('poseidon:') || belowModulus(s), 'must be below the field modulus')

/** What a private service's commitment hides; the operator keeps it until a reveal. */
export const SourceOpeningSchema = z.strictObject({
  /** 31 random bytes in hex: below the field modulus, so the salt is one Field. */
  salt: z.string().regex(/^[0-9a-f]{62}$/, 'must be 62 lower-case hex digits (31 bytes)'),
  providerUrl: z.url({ protocol: /^https?$/ }).max(2048),
  project: z.string().min(1).max(255),
  commit: CommitShaSchema,
})
/** The opening of a private source commitment. */
export type SourceOpening = z.infer<typeof SourceOpeningSchema>

/** True when a commitment is a private (Poseidon) one. */
export const isPrivateCommitment = (commitment: string): boolean =>
  commitment.startsWith('poseidon:')

/**
 * A UTF-8 string of an opening as Fields: its byte length, then 31-byte big-endian chunks
 * (unambiguous, any length). Not outputs' stringToFields, which is fixed-size for circuits.
 */
export function openingStringToFields(text: string): bigint[] {
  const bytes = new TextEncoder().encode(text)
  const fields = [BigInt(bytes.length)]
  for (let i = 0; i < bytes.length; i += 31) {
    let x = 0n
    for (const b of bytes.subarray(i, i + 31)) x = (x << 8n) | BigInt(b)
    fields.push(x)
  }
  return fields
}

/** The Field a private service commits to for an opening. */
export const openingToField = (o: SourceOpening): bigint =>
  poseidonHashWithPrefix(SOURCE_COMMITMENT_PREFIX, [
    BigInt(`0x${o.salt}`),
    ...openingStringToFields(o.providerUrl),
    ...openingStringToFields(o.project),
    BigInt(`0x${o.commit}`),
  ])

/** A private commitment's text for a Field. */
export const fieldToPrivateCommitment = (field: bigint): string =>
  `poseidon:${field.toString(16).padStart(64, '0')}`

/** The private commitment (text) of an opening. */
export const privateCommitment = (o: SourceOpening): string =>
  fieldToPrivateCommitment(openingToField(o))

/** The state Field of a commitment, public or private (the text is assumed schema-valid). */
export const sourceCommitmentToField = (commitment: string): bigint =>
  isPrivateCommitment(commitment)
    ? BigInt(`0x${commitment.slice('poseidon:'.length)}`)
    : BigInt(`0x${commitment}`)

/** True when an opening opens a commitment (a private commitment's text, or its Field). */
export const opensCommitment = (o: SourceOpening, commitment: string | bigint): boolean =>
  openingToField(o) ===
  (typeof commitment === 'bigint' ? commitment : sourceCommitmentToField(commitment))

/** 31 fresh random bytes in hex: a new salt for a private service version. */
export function newSalt(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(31))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The text of a state Field: a commit SHA when it fits 160 bits, else a private commitment. A
 * Poseidon output below 2^160 has odds 2^-95; readers compare Fields, never this text alone.
 */
export const fieldToSourceCommitment = (field: bigint): string =>
  field < 1n << 160n ? field.toString(16).padStart(40, '0') : fieldToPrivateCommitment(field)

/** True when a commitment's text (schema-valid or not) stands for the state Field. */
export const sameSourceCommitment = (commitment: string, field: bigint): boolean =>
  SourceCommitmentSchema.safeParse(commitment).success &&
  sourceCommitmentToField(commitment) === field

import { z } from 'zod'
import { parseCid, parseContentCid } from './cid-fields.ts'
import { isPublicKey } from './mina-key.ts'

const UINT64_MAX = (1n << 64n) - 1n

/** A Mina public key in base58 (`B62…`). */
export const PublicKeySchema = z
  .string()
  .max(64)
  // The shape alone, so a JSON Schema generated from this refuses what is plainly not a key; the
  // refinement checks the base58check and the curve point.
  .regex(/^B62[1-9A-HJ-NP-Za-km-z]{52}$/, 'must be a Mina public key')
  .refine(isPublicKey, 'must be a Mina public key')

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/

/** An amount of credits or a counter: a decimal string of an unsigned 64-bit integer (JSON numbers lose precision past 2^53). */
export const Uint64Schema = z
  .string()
  .regex(DECIMAL, 'must be a decimal unsigned integer')
  // zod runs refinements after a failed regex too: BigInt('B62…') would throw out of a parse.
  .refine((s) => !DECIMAL.test(s) || BigInt(s) <= UINT64_MAX, 'must fit in 64 bits')

/** A git commit SHA-1 (40 lower-case hex digits): the source commitment of a service version. */
export const CommitShaSchema = z
  .string()
  .regex(/^[0-9a-f]{40}$/, 'must be a 40-digit lower-case hex commit SHA')

/** A SHA-256 digest in lower-case hex. */
export const Sha256HexSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be a 64-digit lower-case hex SHA-256')

// With the u flag, \p{Cs} matches only a surrogate that is not half of a pair.
const LONE_SURROGATE = /\p{Cs}/u

/**
 * A string that is well-formed UTF-16: a lone surrogate has no UTF-8 form, so the canonical bytes a
 * signature covers could not be the bytes of the string.
 */
export const WellFormedStringSchema = z
  .string()
  .refine((s) => !LONE_SURROGATE.test(s), 'must not contain a lone surrogate')

/** A CID in its string form. */
export const CidSchema = z
  .string()
  .max(200)
  .refine((s) => parseCid(s).ok, 'must be a CID')

/** The CID of content zkrunner reads (a bundle, a descriptor): raw or dag-pb, sha2-256, no path. */
export const ContentCidSchema = z
  .string()
  .max(200)
  .refine((s) => parseContentCid(s).ok, 'must be a raw or dag-pb sha2-256 CID')

/** A 128-bit random request id in lower-case hex: also the job id everywhere downstream. */
export const RequestIdSchema = z
  .string()
  .regex(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex digits (128 bits)')

/** A Mina field signature in base58. */
export const SignatureSchema = z
  .string()
  .min(10)
  .max(200)
  .regex(/^[1-9A-HJ-NP-Za-km-z]+$/, 'must be base58')

/** An unpadded base64url X25519 public key (32 bytes). */
export const HpkePublicKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'must be a 32-byte unpadded base64url X25519 public key')

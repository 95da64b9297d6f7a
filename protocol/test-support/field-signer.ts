import { sha256 } from '@noble/hashes/sha2.js'
import { createBase58check } from '@scure/base'
import { SIGNATURE_PREFIX } from '../field-signature.ts'
import { Pallas, SCALAR_MODULUS } from '../pallas.ts'
import { poseidonHashWithPrefix } from '../poseidon.ts'

// A fast Schnorr signer for the cross-check fuzz: mina-signer takes ~10 ms a signature, too slow
// for thousands. It is not a reference: every signature it makes is judged by mina-signer, and an
// untampered one that mina-signer rejected would fail the fuzz.

const base58check = createBase58check(sha256)
const le32 = (x: bigint): number[] =>
  Array.from({ length: 32 }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn))

/** A random scalar in [1, q). */
export function randomScalar(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(40))
  let x = 0n
  for (const b of bytes) x = (x << 8n) | BigInt(b)
  return (x % (SCALAR_MODULUS - 1n)) + 1n
}

/** A random Field: mostly uniform, sometimes 0, 1 or p − 1. */
export function randomField(): bigint {
  const pick = crypto.getRandomValues(new Uint8Array(1))[0]!
  if (pick < 8) return 0n
  if (pick < 16) return 1n
  if (pick < 24) return Pallas.Fp.ORDER - 1n
  return randomScalar() % Pallas.Fp.ORDER
}

/** Mina base58 of a public key point (x, isOdd). */
export function encodePublicKey(x: bigint, isOdd: boolean): string {
  return base58check.encode(Uint8Array.from([0xcb, 1, 1, ...le32(x), isOdd ? 1 : 0]))
}

/** Mina base58 of a signature from raw bytes after the version byte and number (for tampering). */
export const encodeSignatureBytes = (body: readonly number[]): string =>
  base58check.encode(Uint8Array.from([154, 1, ...body]))

/** Mina base58 of a signature (r, s), with no range checks: tamper tests encode r ≥ p, s ≥ q. */
export const encodeSignature = (r: bigint, s: bigint): string =>
  encodeSignatureBytes([...le32(r), ...le32(s)])

/** A key pair as scalar, point and base58 public key. */
export function randomKey() {
  const sk = randomScalar()
  const point = Pallas.BASE.multiply(sk).toAffine()
  return { sk, x: point.x, y: point.y, publicKey: encodePublicKey(point.x, (point.y & 1n) === 1n) }
}

/** The challenge e of a signature (Poseidon of fields, key and r). */
export const challenge = (
  fields: readonly bigint[],
  key: { x: bigint; y: bigint },
  r: bigint,
  prefix = SIGNATURE_PREFIX,
): bigint => poseidonHashWithPrefix(prefix, [...fields, key.x, key.y, r])

/** Signs fields as mina-signer would (its nonce is derived, this one random): R = k·G with even y, s = k + e·sk. */
export function signFieldsFast(
  fields: readonly bigint[],
  key: { sk: bigint; x: bigint; y: bigint },
  prefix = SIGNATURE_PREFIX,
): { r: bigint; s: bigint } {
  let k = randomScalar()
  const R = Pallas.BASE.multiply(k).toAffine()
  if ((R.y & 1n) === 1n) k = SCALAR_MODULUS - k
  const e = challenge(fields, key, R.x, prefix)
  return { r: R.x, s: (k + e * key.sk) % SCALAR_MODULUS }
}

import { decodeBase58check } from './base58check.ts'
import { FIELD_MODULUS } from './mina-key.ts'
import { Pallas, type PallasPoint, SCALAR_MODULUS } from './pallas.ts'
import { schnorrPointWasm } from './pallas-wasm.ts'
import { poseidonHashWithPrefix } from './poseidon.ts'

// Mina's Schnorr signatures over Fields (mina-signer `verify` with `{ fields }`, o1js
// `Signature.verify`): R = s·G − e·PK in one double-scalar multiplication (GLV-split, one shared
// doubling chain) where mina-signer does two full ones. verifyFieldSignature computes it with
// noble's bigint Pallas, the reference; verifyFieldSignatureWasm with the WebAssembly curve
// (pallas-wasm.ts), what signature.ts verifies with. field-signature.test.ts cross-checks every
// accept and reject of both against mina-signer and o1js.

/** The Poseidon prefix of field signatures: o1js signs under the testnet prefix unless told mainnet, and so do our signers. */
export const SIGNATURE_PREFIX = 'CodaSignature*******'

const SIGNATURE_VERSION_BYTE = 154
const VERSION_NUMBER = 1

/** A decoded Mina signature: r a base Field (the x of R), s a scalar. */
export interface FieldSignature {
  r: bigint
  s: bigint
}

const readLE = (bytes: Uint8Array, from: number, to: number): bigint => {
  let x = 0n
  for (let i = to - 1; i >= from; i--) x = (x << 8n) | BigInt(bytes[i]!)
  return x
}

/**
 * Decodes a base58 signature exactly as mina-signer does, or undefined: version byte, version
 * number, r in 32 little-endian bytes, then s in what is left (1 to 32 bytes, as mina-signer's
 * reader takes a short tail), r below p and s below q.
 */
export function decodeSignature(base58: string): FieldSignature | undefined {
  const bytes = decodeBase58check(base58)
  if (!bytes) return undefined
  // 1 version byte + 1 version number + 32 bytes of r + 1..32 bytes of s.
  if (bytes.length < 35 || bytes.length > 66) return undefined
  if (bytes[0] !== SIGNATURE_VERSION_BYTE || bytes[1] !== VERSION_NUMBER) return undefined
  const r = readLE(bytes, 2, 34)
  const s = readLE(bytes, 34, bytes.length)
  if (r >= FIELD_MODULUS || s >= SCALAR_MODULUS) return undefined
  return { r, s }
}

/** The curve point of a compressed public key (x, isOdd), or undefined when x is not on Pallas. */
export function publicKeyPoint(x: bigint, isOdd: boolean): PallasPoint | undefined {
  const Fp = Pallas.Fp
  const y2 = Fp.add(Fp.mul(Fp.sqr(x), x), 5n)
  let y: bigint
  try {
    y = Fp.sqrt(y2)
  } catch {
    return undefined
  }
  if (((y & 1n) === 1n) !== isOdd) y = Fp.neg(y)
  return Pallas.fromAffine({ x, y })
}

/**
 * True when `signature` signs `fields` (each below the modulus) for the key point `pk`:
 * with e = Poseidon(prefix; fields, pk.x, pk.y, r), R = s·G − e·PK is not zero, R.y is even and R.x = r.
 */
export function verifyFieldSignature(
  fields: readonly bigint[],
  signature: FieldSignature,
  pk: PallasPoint,
  prefix: string = SIGNATURE_PREFIX,
): boolean {
  const { x, y } = pk.toAffine()
  const e = poseidonHashWithPrefix(prefix, [...fields, x, y, signature.r])
  // e < p < q, so it is a scalar as it stands; −e mod q keeps the subtraction inside one walk.
  const R = Pallas.BASE.mulAddUnsafe(signature.s, pk, Pallas.Fn.neg(e))
  if (R.is0()) return false
  const affine = R.toAffine()
  return (affine.y & 1n) === 0n && affine.x === signature.r
}

/** verifyFieldSignature with the curve arithmetic in WebAssembly (pallas-wasm.ts): the same answer, a fraction of the time. */
export function verifyFieldSignatureWasm(
  fields: readonly bigint[],
  signature: FieldSignature,
  pk: PallasPoint,
  prefix: string = SIGNATURE_PREFIX,
): boolean {
  // decodeSignature keeps r and s in range; this verifier holds it again, as r + p would pass the
  // projective x check below (r·Z ≡ X) where the bigint one compares x = r exactly.
  if (signature.r < 0n || signature.r >= FIELD_MODULUS) return false
  if (signature.s < 0n || signature.s >= SCALAR_MODULUS) return false
  const { x, y } = pk.toAffine()
  const e = poseidonHashWithPrefix(prefix, [...fields, x, y, signature.r])
  const R = schnorrPointWasm(signature.s, e, x, y)
  // R = (X : Y : Z) is the point (X/Z, Y/Z), the identity when Z = 0. x = r is checked without
  // an inversion (X = r·Z); only a signature that passes it pays one for y's parity.
  if (R.Z === 0n) return false
  const p = FIELD_MODULUS
  if ((signature.r * R.Z) % p !== R.X) return false
  return (((R.Y * Pallas.Fp.inv(R.Z)) % p) & 1n) === 0n
}

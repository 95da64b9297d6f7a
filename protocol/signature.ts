import Client from 'mina-signer'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'
import { decodeSignature, publicKeyPoint, verifyFieldSignatureWasm } from './field-signature.ts'
import { FIELD_MODULUS, publicKeyToFields } from './mina-key.ts'
import type { PallasPoint } from './pallas.ts'

// Field signatures do not depend on the network, so one client serves devnet and mainnet alike
// (the cross-check test against o1js's Signature.verify pins this down).
const client = new Client({ network: 'testnet' })

/** A Mina key pair in base58 (`B62…` public, `EK…` private). */
export interface MinaKeyPair {
  publicKey: string
  privateKey: string
}

/** A fresh random Mina key pair. */
export function generateMinaKeyPair(): MinaKeyPair {
  const { publicKey, privateKey } = client.genKeys()
  return { publicKey, privateKey }
}

/** The public key of a private key, or INVALID_KEY. */
export function publicKeyOf(privateKey: string): Result<string> {
  try {
    return ok(client.derivePublicKey(privateKey))
  } catch {
    return fail(ProtocolErrorCode.INVALID_KEY, 'not a Mina private key')
  }
}

function assertFields(fields: readonly bigint[]): void {
  for (const f of fields) {
    if (f < 0n || f >= FIELD_MODULUS) throw new RangeError('message field out of range')
  }
}

/** Signs Fields with a Mina private key; the base58 signature verifies with o1js `Signature.verify`. */
export function signFields(fields: readonly bigint[], privateKey: string): string {
  assertFields(fields)
  return client.signFields([...fields], privateKey).signature
}

// Decompressing a key costs a square root, a sixth of a verification, and a Worker sees the same
// users again and again: points are kept per isolate, bounded, starting over when full.
const keyPoints = new Map<string, PallasPoint | null>()
const KEY_CACHE = 1024

function keyPoint(publicKey: string): PallasPoint | null | undefined {
  const cached = keyPoints.get(publicKey)
  if (cached !== undefined) return cached
  const fields = publicKeyToFields(publicKey)
  if (!fields.ok) return undefined
  const point = publicKeyPoint(fields.value[0], fields.value[1] === 1n) ?? null
  if (keyPoints.size >= KEY_CACHE) keyPoints.clear()
  keyPoints.set(publicKey, point)
  return point
}

/** Verifies a Mina field signature; a malformed key or signature is BAD_SIGNATURE, never a throw. */
export function verifyFields(
  fields: readonly bigint[],
  signature: string,
  publicKey: string,
): Result<true> {
  const pk = keyPoint(publicKey)
  if (pk === undefined) return fail(ProtocolErrorCode.INVALID_KEY, 'not a Mina public key')
  if (pk && fields.every((f) => f >= 0n && f < FIELD_MODULUS)) {
    const sig = decodeSignature(signature)
    // mina-signer and the bigint verifier stay the references: field-signature.test.ts holds them equal.
    if (sig && verifyFieldSignatureWasm(fields, sig, pk)) return ok(true)
  }
  return fail(ProtocolErrorCode.BAD_SIGNATURE, 'signature does not verify')
}

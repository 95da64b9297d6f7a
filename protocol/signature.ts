import Client from 'mina-signer'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'
import { FIELD_MODULUS, isPublicKey } from './mina-key.ts'

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

/** Verifies a Mina field signature; a malformed key or signature is BAD_SIGNATURE, never a throw. */
export function verifyFields(
  fields: readonly bigint[],
  signature: string,
  publicKey: string,
): Result<true> {
  if (!isPublicKey(publicKey)) return fail(ProtocolErrorCode.INVALID_KEY, 'not a Mina public key')
  try {
    assertFields(fields)
    if (client.verifyFields({ data: [...fields], signature, publicKey })) return ok(true)
  } catch {
    // mina-signer throws on a malformed signature: that is a bad signature, not a crash.
  }
  return fail(ProtocolErrorCode.BAD_SIGNATURE, 'signature does not verify')
}

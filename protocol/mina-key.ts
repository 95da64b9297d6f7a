import { decodeBase58check, encodeBase58check } from './base58check.ts'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'

/** The order of the Pallas base field: every Field is below it. */
export const FIELD_MODULUS = 0x40000000000000000000000000000000224698fc094cf91b992d30ed00000001n

// Mina's base58check of a public key: version byte 0xcb, two version numbers (both 1), then x as
// 32 little-endian bytes and the isOdd byte. Cross-checked against o1js in mina-key.test.ts.
// Decoded with protocol's bigint base58check: every submission's keys pass through here.
const PREFIX = [0xcb, 0x01, 0x01]

/** A Mina public key as the two Fields o1js uses (`PublicKey.toFields()`: x, isOdd). */
export function publicKeyToFields(base58: string): Result<[bigint, bigint]> {
  const bytes = decodeBase58check(base58)
  if (!bytes) return fail(ProtocolErrorCode.INVALID_KEY, 'not a base58check Mina public key')
  if (
    bytes.length !== 36 ||
    PREFIX.some((b, i) => bytes[i] !== b) ||
    (bytes[35] !== 0 && bytes[35] !== 1)
  ) {
    return fail(ProtocolErrorCode.INVALID_KEY, 'not a Mina public key')
  }
  let x = 0n
  for (let i = 34; i >= 3; i--) x = (x << 8n) | BigInt(bytes[i]!)
  if (x >= FIELD_MODULUS) return fail(ProtocolErrorCode.INVALID_KEY, 'public key x out of range')
  return ok([x, BigInt(bytes[35]!)])
}

/** True when the text is a well-formed Mina public key. */
export const isPublicKey = (base58: string): boolean => publicKeyToFields(base58).ok

/**
 * The base58 Mina public key of the point (x, isOdd), the inverse of `publicKeyToFields`. It does
 * not check that x is on the curve: a reader that derives an address this way finds no account at
 * a bad one.
 */
export function publicKeyFromFields(x: bigint, isOdd: boolean): string | null {
  if (x < 0n || x >= FIELD_MODULUS) return null
  const bytes = new Uint8Array(36)
  bytes.set(PREFIX)
  let v = x
  for (let i = 3; i < 35; i++) {
    bytes[i] = Number(v & 0xffn)
    v >>= 8n
  }
  bytes[35] = isOdd ? 1 : 0
  return encodeBase58check(bytes)
}

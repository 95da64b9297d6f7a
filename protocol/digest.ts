import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'

const TWO_128 = 1n << 128n

/** SHA-256 that runs everywhere (Worker, browser, Node); bulk hashing in Node should use node:crypto. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return nobleSha256(bytes)
}

/** Big-endian unsigned integer of bytes. */
export function bytesToBigint(bytes: Uint8Array): bigint {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

/** `length` big-endian bytes of an unsigned integer that must fit. */
export function bigintToBytes(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let rest = n
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn)
    rest >>= 8n
  }
  return out
}

/**
 * A 32-byte digest as two Fields of 128 bits (high half first): one Field holds < 255 bits,
 * so a 256-bit digest never fits in one.
 */
export function digestToFields(digest: Uint8Array): Result<[bigint, bigint]> {
  if (digest.length !== 32) {
    return fail(ProtocolErrorCode.INVALID_FIELDS, `digest must be 32 bytes, got ${digest.length}`)
  }
  return ok([bytesToBigint(digest.subarray(0, 16)), bytesToBigint(digest.subarray(16))])
}

/** The inverse of digestToFields; rejects halves that do not fit in 128 bits. */
export function fieldsToDigest(fields: readonly bigint[]): Result<Uint8Array> {
  const [hi, lo] = fields
  if (fields.length !== 2 || hi === undefined || lo === undefined) {
    return fail(ProtocolErrorCode.INVALID_FIELDS, 'a digest is exactly two fields')
  }
  if (hi < 0n || hi >= TWO_128 || lo < 0n || lo >= TWO_128) {
    return fail(ProtocolErrorCode.INVALID_FIELDS, 'digest halves must be 128-bit')
  }
  const out = new Uint8Array(32)
  out.set(bigintToBytes(hi, 16), 0)
  out.set(bigintToBytes(lo, 16), 16)
  return ok(out)
}

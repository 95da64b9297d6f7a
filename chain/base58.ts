import { sha256 } from '@noble/hashes/sha2.js'

// Base58Check encodings of Mina's hash types (state, ledger, epoch seed, receipt chain),
// byte-compatible with o1js's `fieldEncodings`: version byte, version number 1, then the
// field as 32 little-endian bytes, then a 4-byte double-SHA-256 checksum.

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

const VERSION_BYTES = {
  stateHash: 16,
  ledgerHash: 5,
  epochSeed: 13,
  receiptChainHash: 12,
} as const

/** The kinds of field-valued hash that Mina prints in base58. */
export type HashKind = keyof typeof VERSION_BYTES

function toBase58(bytes: Uint8Array): string {
  let zeros = 0
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  let out = ''
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)] + out
    n /= 58n
  }
  return '1'.repeat(zeros) + out
}

/** Encodes a field element (decimal string or bigint) as a Mina base58 hash of the given kind. */
export function fieldToBase58(kind: HashKind, field: string | bigint): string {
  let x = BigInt(field)
  const payload = new Uint8Array(2 + 32)
  payload[0] = VERSION_BYTES[kind]
  payload[1] = 1
  for (let i = 0; i < 32; i++) {
    payload[2 + i] = Number(x & 0xffn)
    x >>= 8n
  }
  const checksum = sha256(sha256(payload)).slice(0, 4)
  const all = new Uint8Array(payload.length + 4)
  all.set(payload)
  all.set(checksum, payload.length)
  return toBase58(all)
}

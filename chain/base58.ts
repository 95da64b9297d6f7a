import { encodeBase58check } from '../protocol/base58check.ts'

// Base58Check encodings of Mina's hash types (state, ledger, epoch seed, receipt chain),
// byte-compatible with o1js's `fieldEncodings`: version byte, version number 1, then the
// field as 32 little-endian bytes, then a 4-byte double-SHA-256 checksum.

const VERSION_BYTES = {
  stateHash: 16,
  ledgerHash: 5,
  epochSeed: 13,
  receiptChainHash: 12,
} as const

/** The kinds of field-valued hash that Mina prints in base58. */
export type HashKind = keyof typeof VERSION_BYTES

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
  return encodeBase58check(payload)
}

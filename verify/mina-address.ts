import { sha256 } from '@noble/hashes/sha2.js'
import { createBase58check } from '@scure/base'
import { FIELD_MODULUS } from '../protocol/index.ts'

// The inverse of the protocol's publicKeyToFields: events carry public keys as (x, isOdd) fields,
// and the page shows them as base58 without loading o1js.
const base58check = createBase58check(sha256)
const PREFIX = [0xcb, 0x01, 0x01]

/** A Mina public key (base58) from its two fields (x, isOdd), or null when they are not one. */
export function fieldsToPublicKey(x: bigint, isOdd: bigint): string | null {
  if (x < 0n || x >= FIELD_MODULUS || (isOdd !== 0n && isOdd !== 1n)) return null
  const bytes = new Uint8Array(36)
  bytes.set(PREFIX, 0)
  let rest = x
  for (let i = 3; i < 35; i++) {
    bytes[i] = Number(rest & 0xffn)
    rest >>= 8n
  }
  bytes[35] = Number(isOdd)
  return base58check.encode(bytes)
}

import { sha256 } from '@noble/hashes/sha2.js'
import { createBase58check } from '@scure/base'
import { ok, type Result } from './errors.ts'
import { publicKeyToFields } from './mina-key.ts'
import { poseidonHashWithPrefix } from './poseidon.ts'

// o1js `TokenId.derive(owner)`: Poseidon under this prefix of packToFields(AccountId): the owner's
// x, the parent token (1, MINA), then the packed isOdd bit. Cross-checked against o1js in
// token-id.test.ts.
const DERIVE_TOKEN_ID_PREFIX = 'MinaDeriveTokenId***'
const MINA_TOKEN_ID = 1n
// o1js `TokenId.toBase58`: version byte 0x1c, then the field as 32 little-endian bytes.
const TOKEN_ID_VERSION = 0x1c
const base58check = createBase58check(sha256)

/** A token id as o1js writes it (`TokenId.toBase58`). */
export function tokenIdToBase58(id: bigint): string {
  const bytes = new Uint8Array(33)
  bytes[0] = TOKEN_ID_VERSION
  let x = id
  for (let i = 1; i < 33; i++) {
    bytes[i] = Number(x & 0xffn)
    x >>= 8n
  }
  return base58check.encode(bytes)
}

/**
 * The token id of a service's deposit receipts (`TokenId.derive(service)`), base58: anyone can
 * compute it from the address, so nobody has to be trusted for it.
 */
export function receiptTokenIdOf(service: string): Result<string> {
  const owner = publicKeyToFields(service)
  if (!owner.ok) return owner
  const [x, isOdd] = owner.value
  return ok(
    tokenIdToBase58(poseidonHashWithPrefix(DERIVE_TOKEN_ID_PREFIX, [x, MINA_TOKEN_ID, isOdd])),
  )
}

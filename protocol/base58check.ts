import { sha256 } from '@noble/hashes/sha2.js'

// Base58check decoding (Bitcoin's alphabet, a 4-byte double-SHA-256 checksum) as @scure/base's
// createBase58check(sha256).decode, but through one bigint instead of a digit-by-digit radix
// conversion: a verifier decodes a signature per request, and @scure's quadratic loop took 0.15 ms
// of a 1 ms verification. base58check.test.ts holds the two equal.

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
const DIGITS = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) DIGITS[ALPHABET.charCodeAt(i)] = i
// Eight digits at a time in a double: 58^8 < 2^53.
const CHUNK = 58 ** 8

/** The payload of a base58check string, or undefined when a character or the checksum is wrong. */
export function decodeBase58check(text: string): Uint8Array | undefined {
  let zeros = 0
  while (zeros < text.length && text.charCodeAt(zeros) === 49) zeros++ // each leading '1' is a zero byte
  let x = 0n
  let chunk = 0
  let scale = 1
  for (let i = zeros; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const d = c < 128 ? DIGITS[c]! : -1
    if (d < 0) return undefined
    chunk = chunk * 58 + d
    scale *= 58
    if (scale === CHUNK) {
      x = x * BigInt(CHUNK) + BigInt(chunk)
      chunk = 0
      scale = 1
    }
  }
  if (scale > 1) x = x * BigInt(scale) + BigInt(chunk)
  const hex = x === 0n ? '' : x.toString(16)
  const even = hex.length % 2 ? `0${hex}` : hex
  const bytes = new Uint8Array(zeros + even.length / 2)
  for (let i = 0; i < even.length / 2; i++)
    bytes[zeros + i] = Number.parseInt(even.slice(2 * i, 2 * i + 2), 16)
  if (bytes.length < 4) return undefined
  const payload = bytes.subarray(0, bytes.length - 4)
  const check = sha256(sha256(payload))
  for (let i = 0; i < 4; i++) if (check[i] !== bytes[payload.length + i]) return undefined
  return payload
}

/** The base58check string of a payload: the inverse of `decodeBase58check`. */
export function encodeBase58check(payload: Uint8Array): string {
  const check = sha256(sha256(payload))
  const bytes = new Uint8Array(payload.length + 4)
  bytes.set(payload)
  bytes.set(check.subarray(0, 4), payload.length)
  let zeros = 0
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++
  let x = 0n
  for (const b of bytes) x = (x << 8n) | BigInt(b)
  let out = ''
  while (x > 0n) {
    out = ALPHABET[Number(x % 58n)] + out
    x /= 58n
  }
  return '1'.repeat(zeros) + out
}

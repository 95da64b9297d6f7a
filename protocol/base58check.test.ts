import { sha256 } from '@noble/hashes/sha2.js'
import { createBase58check } from '@scure/base'
import { expect, test } from 'vitest'
import { decodeBase58check, encodeBase58check } from './base58check.ts'

const reference = createBase58check(sha256)
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
const pick = (s: string) => s[random(1)[0]! % s.length]!

const decoded = (text: string): Uint8Array | undefined => {
  try {
    return reference.decode(text)
  } catch {
    return undefined
  }
}

test('decodes what @scure/base encodes, and encodes as it does: every length 0..70, leading zero bytes, all-zero payloads', () => {
  for (let n = 0; n <= 70; n++) {
    for (const payload of [
      random(n),
      new Uint8Array(n),
      Uint8Array.from([0, 0, ...random(n)]),
      Uint8Array.from(random(n), (b) => b | 0x80),
    ]) {
      const text = reference.encode(payload)
      expect(decodeBase58check(text), text).toEqual(payload)
      expect(encodeBase58check(payload)).toBe(text)
    }
  }
})

test('refuses and accepts exactly what @scure/base does on tampered and random strings', () => {
  const samples: string[] = ['', '1', '11111', '1111111111', 'z', '0', 'O', 'I', 'l', 'é', ' ']
  for (let i = 0; i < 3000; i++) {
    const text = reference.encode(random(i % 70))
    const at = random(1)[0]! % Math.max(1, text.length)
    const kind = i % 4
    if (kind === 0) samples.push(text.slice(0, at) + pick(ALPHABET) + text.slice(at + 1))
    else if (kind === 1) samples.push(text.slice(0, at) + text.slice(at + 1))
    else if (kind === 2) samples.push(`1${text}`)
    else samples.push(text.slice(0, at) + pick('0OIl+/= \u00e9\u{1F600}') + text.slice(at + 1))
  }
  for (const text of samples) expect(decodeBase58check(text), text).toEqual(decoded(text))
})

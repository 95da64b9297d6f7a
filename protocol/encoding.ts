import { base64urlnopad, hex } from '@scure/base'
import canonicalize from 'canonicalize'

/** RFC 8785 canonical JSON: the one byte form every hash and signature in zkrunner is taken over. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value)
  if (text === undefined) throw new TypeError('value has no JSON form')
  return text
}

/** UTF-8 bytes of the canonical JSON form. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value))
}

/** Lower-case hex of bytes. */
export const toHex = (bytes: Uint8Array): string => hex.encode(bytes)

/** Bytes of a hex string (throws on odd length or bad digits; callers validate first). */
export const fromHex = (text: string): Uint8Array => hex.decode(text.toLowerCase())

/** Unpadded base64url (RFC 4648 §5) of bytes, as used in envelopes and keys. */
export const toBase64url = (bytes: Uint8Array): string => base64urlnopad.encode(bytes)

/** Bytes of unpadded base64url text. */
export const fromBase64url = (text: string): Uint8Array => base64urlnopad.decode(text)

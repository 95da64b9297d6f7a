import { Chacha20Poly1305 } from '@hpke/chacha20poly1305'
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core'
import { x25519 } from '@noble/curves/ed25519.js'
import { z } from 'zod'
import { sha256 } from './digest.ts'
import { canonicalBytes, fromBase64url, toBase64url, toHex } from './encoding.ts'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'
import { parseWith } from './parse.ts'

/** The one HPKE suite zkrunner speaks (RFC 9180): X25519, HKDF-SHA256, ChaCha20-Poly1305, base mode. */
export const HPKE_SUITE = 'DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/ChaCha20Poly1305' as const

/** HPKE `info` of a sealed job submission: binds the ciphertext to its purpose. */
export const JOB_REQUEST_INFO = 'zkrunner/job-request/v1'
/** HPKE `info` of an operator's sealed GitLab trigger token. */
export const TRIGGER_TOKEN_INFO = 'zkrunner/trigger-token/v1'

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Chacha20Poly1305(),
})

const b64url = (bytes: number) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'must be unpadded base64url')
    .refine(
      (s) => bytes < 0 || Math.floor((s.length * 3) / 4) === bytes,
      `must encode ${bytes} bytes`,
    )

/** An HPKE ciphertext addressed to one Worker key. */
export const EnvelopeSchema = z.strictObject({
  v: z.literal(1),
  suite: z.literal(HPKE_SUITE),
  /** Key id of the recipient public key (see keyId). */
  kid: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex digits'),
  /** The encapsulated ephemeral public key. */
  enc: b64url(32),
  /** The AEAD ciphertext with its tag. */
  ct: b64url(-1).max(1_400_000),
})
/** An HPKE ciphertext addressed to one Worker key. */
export type Envelope = z.infer<typeof EnvelopeSchema>

/** Validates an untrusted envelope. */
export const parseEnvelope = (input: unknown): Result<Envelope> => parseWith(EnvelopeSchema, input)

/** An HPKE key pair as unpadded base64url of the raw 32-byte keys. */
export interface HpkeKeyPair {
  kid: string
  publicKey: string
  privateKey: string
}

/** A private key the Worker can open envelopes with, under its key id. */
export interface HpkeRecipientKey {
  kid: string
  privateKey: string
}

/** Key id of a public key: the first 8 bytes of its SHA-256, in hex. */
export function keyId(publicKey: string): string {
  return toHex(sha256(fromBase64url(publicKey)).subarray(0, 8))
}

/** A fresh random X25519 key pair. */
export async function generateHpkeKeyPair(): Promise<HpkeKeyPair> {
  const pair = await suite.kem.generateKeyPair()
  const publicKey = toBase64url(new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)))
  const privateKey = toBase64url(
    new Uint8Array(await suite.kem.serializePrivateKey(pair.privateKey)),
  )
  return { kid: keyId(publicKey), publicKey, privateKey }
}

/** The key pair of a stored private key (as kept in a Worker secret), or INVALID_KEY. */
export function hpkeKeyPairOf(privateKey: string): Result<HpkeKeyPair> {
  try {
    const sk = fromBase64url(privateKey)
    if (sk.length !== 32) throw new RangeError('X25519 private keys are 32 bytes')
    const publicKey = toBase64url(x25519.getPublicKey(sk))
    return ok({ kid: keyId(publicKey), publicKey, privateKey })
  } catch {
    return fail(ProtocolErrorCode.INVALID_KEY, 'not an X25519 private key')
  }
}

const aadFor = (kid: string) => new TextEncoder().encode(`zkrunner/envelope/v1|${kid}`)

/** Seals a JSON value (its canonical bytes) to a recipient public key. */
export async function sealJson(publicKey: string, info: string, value: unknown): Promise<Envelope> {
  const kid = keyId(publicKey)
  const recipientPublicKey = await suite.kem.deserializePublicKey(fromBase64url(publicKey))
  const { ct, enc } = await suite.seal(
    { recipientPublicKey, info: new TextEncoder().encode(info) },
    canonicalBytes(value),
    aadFor(kid),
  )
  return {
    v: 1,
    suite: HPKE_SUITE,
    kid,
    enc: toBase64url(new Uint8Array(enc)),
    ct: toBase64url(new Uint8Array(ct)),
  }
}

// Importing a private key is a key derivation of its own: the Worker's few keys are imported once
// per isolate, not per request. Bounded, so a caller with ever new keys cannot grow it.
const importedKeys = new Map<string, Promise<CryptoKey>>()
const IMPORTED_KEYS = 16

function importedKey(privateKey: string): Promise<CryptoKey> {
  let key = importedKeys.get(privateKey)
  if (!key) {
    key = suite.kem.deserializePrivateKey(fromBase64url(privateKey))
    // A key that fails to import is not kept: the next request tries again and fails the same way.
    key.catch(() => importedKeys.delete(privateKey))
    if (importedKeys.size >= IMPORTED_KEYS) importedKeys.clear()
    importedKeys.set(privateKey, key)
  }
  return key
}

/**
 * Opens an envelope with whichever of `keys` it names (the current key and, during rotation,
 * the previous one) and parses the JSON inside. Tampering, a wrong key or a wrong `info` all
 * answer DECRYPT_FAILED: HPKE does not tell them apart, and neither should we.
 */
export async function openJson(
  keys: readonly HpkeRecipientKey[],
  envelope: Envelope,
  info: string,
): Promise<Result<unknown>> {
  const key = keys.find((k) => k.kid === envelope.kid)
  if (!key) return fail(ProtocolErrorCode.UNKNOWN_KEY_ID, `no key with id ${envelope.kid}`, ['kid'])
  let plaintext: ArrayBuffer
  try {
    const recipientKey = await importedKey(key.privateKey)
    plaintext = await suite.open(
      {
        recipientKey,
        enc: fromBase64url(envelope.enc),
        info: new TextEncoder().encode(info),
      },
      fromBase64url(envelope.ct),
      aadFor(envelope.kid),
    )
  } catch {
    return fail(ProtocolErrorCode.DECRYPT_FAILED, 'envelope does not open with this key')
  }
  try {
    return ok(
      JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(plaintext)),
    )
  } catch {
    return fail(ProtocolErrorCode.MALFORMED_JSON, 'envelope plaintext is not JSON')
  }
}

import { describe, expect, test } from 'vitest'
import { fromBase64url, toBase64url } from './encoding.ts'
import {
  generateHpkeKeyPair,
  hpkeKeyPairOf,
  JOB_REQUEST_INFO,
  keyId,
  openJson,
  parseEnvelope,
  sealJson,
  TRIGGER_TOKEN_INFO,
} from './envelope.ts'

const value = { hello: 'world', n: 42, nested: { list: [1, 2, 3] } }

const flip = (b64: string, index: number) => {
  const bytes = fromBase64url(b64)
  bytes[index % bytes.length]! ^= 0x01
  return toBase64url(bytes)
}

describe('HPKE envelopes', () => {
  test('seal then open returns the value; the envelope parses', async () => {
    const key = await generateHpkeKeyPair()
    const env = await sealJson(key.publicKey, JOB_REQUEST_INFO, value)
    expect(parseEnvelope(env).ok).toBe(true)
    expect(env.kid).toBe(key.kid)
    expect(await openJson([key], env, JOB_REQUEST_INFO)).toEqual({ ok: true, value })
  })

  test('two seals of one value differ (fresh ephemeral key)', async () => {
    const key = await generateHpkeKeyPair()
    const a = await sealJson(key.publicKey, JOB_REQUEST_INFO, value)
    const b = await sealJson(key.publicKey, JOB_REQUEST_INFO, value)
    expect(a.enc).not.toBe(b.enc)
    expect(a.ct).not.toBe(b.ct)
  })

  test('tampered ciphertext, tampered enc, wrong info and wrong key all fail to open', async () => {
    const key = await generateHpkeKeyPair()
    const other = await generateHpkeKeyPair()
    const env = await sealJson(key.publicKey, JOB_REQUEST_INFO, value)
    const cases = [
      { keys: [key], env: { ...env, ct: flip(env.ct, 5) }, info: JOB_REQUEST_INFO },
      { keys: [key], env: { ...env, enc: flip(env.enc, 3) }, info: JOB_REQUEST_INFO },
      { keys: [key], env, info: TRIGGER_TOKEN_INFO },
      { keys: [{ kid: key.kid, privateKey: other.privateKey }], env, info: JOB_REQUEST_INFO },
    ]
    for (const c of cases) {
      const r = await openJson(c.keys, c.env, c.info)
      expect(!r.ok && r.error.code).toBe('DECRYPT_FAILED')
    }
  })

  test('an envelope for an unknown key id says so', async () => {
    const key = await generateHpkeKeyPair()
    const other = await generateHpkeKeyPair()
    const env = await sealJson(key.publicKey, JOB_REQUEST_INFO, value)
    const r = await openJson([other], env, JOB_REQUEST_INFO)
    expect(!r.ok && r.error.code).toBe('UNKNOWN_KEY_ID')
    expect(!r.ok && r.error.path).toEqual(['kid'])
  })

  test('rotation: the previous key still opens its envelopes', async () => {
    const previous = await generateHpkeKeyPair()
    const current = await generateHpkeKeyPair()
    const env = await sealJson(previous.publicKey, JOB_REQUEST_INFO, value)
    expect((await openJson([current, previous], env, JOB_REQUEST_INFO)).ok).toBe(true)
  })

  test('a key pair is recovered from its stored private key', async () => {
    const key = await generateHpkeKeyPair()
    expect(hpkeKeyPairOf(key.privateKey)).toEqual({ ok: true, value: key })
    expect(keyId(key.publicKey)).toMatch(/^[0-9a-f]{16}$/)
    const bad = hpkeKeyPairOf('short')
    expect(!bad.ok && bad.error.code).toBe('INVALID_KEY')
  })

  test('malformed envelopes are refused with the offending field', () => {
    const good = {
      v: 1,
      suite: 'DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/ChaCha20Poly1305',
      kid: '0123456789abcdef',
      enc: 'A'.repeat(43),
      ct: 'abc',
    }
    const cases: Array<[unknown, string, unknown[]]> = [
      [{ ...good, suite: 'AES' }, 'INVALID_FIELD', ['suite']],
      [{ ...good, kid: 'XYZ' }, 'INVALID_FIELD', ['kid']],
      [{ ...good, enc: 'A'.repeat(10) }, 'INVALID_FIELD', ['enc']],
      [{ ...good, ct: 'not base64!' }, 'INVALID_FIELD', ['ct']],
      [{ ...good, extra: 1 }, 'UNKNOWN_FIELD', ['extra']],
      [{ v: 1 }, 'MISSING_FIELD', ['suite']],
      ['a string', 'INVALID_FIELD', []],
    ]
    expect(parseEnvelope(good).ok).toBe(true)
    for (const [input, code, path] of cases) {
      const r = parseEnvelope(input)
      expect(r.ok ? 'ok' : [r.error.code, r.error.path]).toEqual([code, path])
    }
  })
})

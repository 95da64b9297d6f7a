import { CID } from 'multiformats/cid'
import { sha256 as mhSha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { parseContentCid } from './cid-fields.ts'
import { canonicalJson } from './encoding.ts'
import { requestDigest } from './request-digest.ts'
import { manifestBytes, parseManifestBytes } from './result-manifest.ts'
import { manifest, request } from './vectors/inputs.ts'

const enc = new TextEncoder()

describe('the bytes of a signed manifest', () => {
  test('are exactly its canonical JSON, which parses back to it', () => {
    const bytes = manifestBytes(manifest)
    expect(new TextDecoder().decode(bytes)).toBe(canonicalJson(manifest))
    expect(parseManifestBytes(bytes)).toEqual({ ok: true, value: manifest })
  })

  test('with a duplicate key are NOT_CANONICAL, though JSON.parse reads the signed value', () => {
    const text = canonicalJson(manifest).replace('"exitCode":0', '"exitCode":1,"exitCode":0')
    expect(JSON.parse(text).exitCode).toBe(0)
    const r = parseManifestBytes(enc.encode(text))
    expect(!r.ok && r.error.code).toBe('NOT_CANONICAL')
  })

  test('pretty-printed are NOT_CANONICAL: only one spelling is signed', () => {
    const r = parseManifestBytes(enc.encode(JSON.stringify(manifest, null, 2)))
    expect(!r.ok && r.error.code).toBe('NOT_CANONICAL')
  })

  test('with a lone surrogate in any string are refused by the schema', () => {
    // JSON spells a lone surrogate as an escape; canonicalize itself throws on one, so without
    // the schema's refusal a verifier would throw where it hashes the manifest.
    const text = canonicalJson(manifest)
    const spoiled = [
      text.replace('"signal":null', '"signal":"\\ud800"'),
      text.replace('"path":"stdout.log"', '"path":"a\\udc00.log"'),
      text.replace('"unit":"msec"', '"unit":"\\ud83d"'),
    ]
    for (const t of spoiled) {
      expect(t).not.toBe(text)
      const r = parseManifestBytes(enc.encode(t))
      expect(!r.ok && r.error.code).toBe('INVALID_FIELD')
      expect(!r.ok && r.error.message).toContain('must not contain a lone surrogate')
    }
    // A surrogate pair is a character like any other.
    const paired = { ...manifest, files: [{ ...manifest.files[0]!, path: 'ok-\ud83d\ude00.log' }] }
    expect(parseManifestBytes(enc.encode(canonicalJson(paired))).ok).toBe(true)
  })

  test('that are not UTF-8 are MALFORMED_JSON', () => {
    const r = parseManifestBytes(new Uint8Array([0x7b, 0xff, 0x7d]))
    expect(!r.ok && r.error.code).toBe('MALFORMED_JSON')
  })
})

describe('the request digest', () => {
  test('changes with the request id, the user, the service and every parameter', () => {
    const base = requestDigest(request)
    const variants = [
      { ...request, requestId: 'ffffffffffffffffffffffffffffffff' },
      { ...request, user: request.service, service: request.user },
      { ...request, parameters: { ...request.parameters, RUNS: '4' } },
      { ...request, parameters: {} },
    ]
    for (const v of variants) expect(requestDigest(v)).not.toBe(base)
    // Key order is not part of the request: the digest is over canonical JSON.
    expect(requestDigest({ ...request, parameters: { RUNS: '3', TARGET: 'release' } })).toBe(base)
  })
})

describe('content CIDs', () => {
  test('are raw or dag-pb sha2-256 CIDs and nothing else', async () => {
    const mh = await mhSha256.digest(enc.encode('x'))
    expect(parseContentCid(CID.createV1(0x55, mh).toString()).ok).toBe(true)
    expect(parseContentCid(CID.createV1(0x70, mh).toString()).ok).toBe(true)
    expect(parseContentCid(CID.createV0(mh).toString()).ok).toBe(true)
    const good = CID.createV1(0x55, mh).toString()
    for (const bad of [
      `${good}?format=raw`,
      `${good}/stdout.log`,
      CID.createV1(0x71, mh).toString(),
      `/ipfs/${good}`,
    ]) {
      const r = parseContentCid(bad)
      expect(!r.ok && r.error.code, bad).toBe('UNSUPPORTED_CID')
    }
  })
})

import { createHash, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 as mhSha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { cidToFields, fieldsToCid } from './cid-fields.ts'
import { digestToFields, fieldsToDigest, sha256 } from './digest.ts'
import { unwrap } from './errors.ts'
import { FIELD_MODULUS } from './mina-key.ts'

describe('SHA-256 digests as two 128-bit fields', () => {
  test('sha256 matches node:crypto', () => {
    for (const n of [0, 1, 55, 64, 1000, 100_000]) {
      const bytes = randomBytes(n)
      expect(Buffer.from(sha256(bytes)).toString('hex')).toBe(
        createHash('sha256').update(bytes).digest('hex'),
      )
    }
  })

  test('round trip for any digest, and both halves fit in a field', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (d) => {
        const f = digestToFields(d)
        if (!f.ok) return false
        expect(f.value.every((x) => x < 1n << 128n && x < FIELD_MODULUS)).toBe(true)
        const back = fieldsToDigest(f.value)
        return back.ok && Buffer.from(back.value).equals(Buffer.from(d))
      }),
    )
  })

  test('wrong lengths and out-of-range halves are INVALID_FIELDS', () => {
    for (const r of [
      digestToFields(new Uint8Array(31)),
      fieldsToDigest([1n]),
      fieldsToDigest([1n << 128n, 0n]),
      fieldsToDigest([0n, -1n]),
    ]) {
      expect(!r.ok && r.error.code).toBe('INVALID_FIELDS')
    }
  })
})

describe('CIDs as two fields', () => {
  test('raw and dag-pb CIDv1 round trip', async () => {
    for (const code of [raw.code, 0x70]) {
      const cid = CID.createV1(code, await mhSha256.digest(randomBytes(100)))
      const f = cidToFields(cid)
      expect(f.ok).toBe(true)
      if (!f.ok) return
      expect(f.value[0] < FIELD_MODULUS).toBe(true)
      const back = fieldsToCid(f.value)
      expect(back.ok && back.value.toString()).toBe(cid.toString())
      expect(cidToFields(cid.toString())).toEqual(f)
    }
  })

  test('CIDv0, non-sha256 and garbage are UNSUPPORTED_CID', async () => {
    const v0 = CID.createV0(await mhSha256.digest(new Uint8Array([1])))
    const id = CID.createV1(raw.code, identity.digest(new Uint8Array([1, 2, 3])))
    for (const c of [v0, id, 'not-a-cid']) {
      const r = cidToFields(c)
      expect(!r.ok && r.error.code).toBe('UNSUPPORTED_CID')
    }
  })

  test('only raw and dag-pb go on chain or come off it: a dag-cbor CID is UNSUPPORTED_CID', async () => {
    const cbor = CID.createV1(0x71, await mhSha256.digest(randomBytes(100)))
    expect(cidToFields(cbor)).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_CID' } })
    // Fields a contract holds decode only to a codec zkrunner reads.
    const [hi, lo] = unwrap(cidToFields(CID.createV1(raw.code, cbor.multihash)))
    const asCbor = (0x71n << 128n) | (hi & ((1n << 128n) - 1n))
    expect(fieldsToCid([asCbor, lo])).toMatchObject({
      ok: false,
      error: { code: 'UNSUPPORTED_CID' },
    })
  })

  test('fields that cannot be a CID are INVALID_FIELDS', () => {
    for (const f of [[1n], [1n << 200n, 0n], [0n, 1n << 128n]]) {
      const r = fieldsToCid(f)
      expect(!r.ok && r.error.code).toBe('INVALID_FIELDS')
    }
  })
})

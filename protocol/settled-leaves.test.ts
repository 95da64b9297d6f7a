import { describe, expect, test } from 'vitest'
import { cidToFields } from './cid-fields.ts'
import { canonicalJson } from './encoding.ts'
import { settleMessage } from './messages.ts'
import {
  MAX_SETTLED_LEAVES,
  parseSettledLeaves,
  settledLeavesBytes,
  settledLeavesCid,
} from './settled-leaves.ts'
import { keys, settledLeaves, settlement } from './vectors/inputs.ts'

describe('settled leaves', () => {
  test('round trips through canonical JSON', () => {
    expect(parseSettledLeaves(JSON.parse(canonicalJson(settledLeaves)))).toEqual({
      ok: true,
      value: settledLeaves,
    })
  })

  test('its CID is a raw CIDv1 of the canonical bytes, so it fits the chain', () => {
    const cid = settledLeavesCid(settledLeaves)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(new TextDecoder().decode(settledLeavesBytes(settledLeaves))).toBe(
      canonicalJson(settledLeaves),
    )
    expect(cidToFields(cid).ok).toBe(true)
  })

  test('another leaf list has another CID, and so another settle message', () => {
    const other = { ...settledLeaves, manifestDigests: settledLeaves.manifestDigests.slice(1) }
    const message = (doc: typeof settledLeaves) => {
      const fields = cidToFields(settledLeavesCid(doc))
      if (!fields.ok) throw fields.error
      return settleMessage({
        service: keys.service.publicKey,
        user: keys.user.publicKey,
        leavesCid: fields.value,
        ...settlement,
      })
    }
    expect(message(other)).not.toEqual(message(settledLeaves))
  })

  test.each([
    [{ ...settledLeaves, v: 2 }, 'INVALID_FIELD', ['v']],
    [{ ...settledLeaves, user: 'B62nope' }, 'INVALID_FIELD', ['user']],
    [{ ...settledLeaves, manifestDigests: ['AB'] }, 'INVALID_FIELD', ['manifestDigests', 0]],
    [{ ...settledLeaves, extra: 1 }, 'UNKNOWN_FIELD', ['extra']],
    [
      { v: 1, service: settledLeaves.service, user: settledLeaves.user },
      'MISSING_FIELD',
      ['manifestDigests'],
    ],
    [
      { ...settledLeaves, manifestDigests: Array(MAX_SETTLED_LEAVES + 1).fill('0'.repeat(64)) },
      'INVALID_FIELD',
      ['manifestDigests'],
    ],
  ] as const)('rejects %j with %s', (input, code, path) => {
    const parsed = parseSettledLeaves(input)
    expect(!parsed.ok && [parsed.error.code, parsed.error.path]).toEqual([code, path])
  })
})

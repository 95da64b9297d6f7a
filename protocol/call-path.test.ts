import { describe, expect, it } from 'vitest'
import {
  CallRefusal,
  callPathBelow,
  checkCallPath,
  generateMinaKeyPair,
  MAX_CALL_DEPTH,
  parseJobRequest,
  requestDigest,
} from './index.ts'
import { request } from './vectors/inputs.ts'
import vectors from './vectors/vectors.json' with { type: 'json' }

const key = () => generateMinaKeyPair().publicKey
const [a, b, c, d, e] = [key(), key(), key(), key(), key()]

describe('the call path rule', () => {
  it('admits a user request and a chain down to depth 4', () => {
    expect(checkCallPath(a, undefined)).toEqual({ ok: true })
    expect(checkCallPath(d, [a, b, c])).toEqual({ ok: true })
    expect(MAX_CALL_DEPTH).toBe(4)
  })

  it('refuses depth 5 with call-too-deep', () => {
    const verdict = checkCallPath(e, [a, b, c, d])
    expect(verdict).toMatchObject({ ok: false, code: CallRefusal.TOO_DEEP })
  })

  it('refuses a cycle through the same service version, direct or further up', () => {
    expect(checkCallPath(a, [a])).toMatchObject({ ok: false, code: CallRefusal.CYCLE })
    expect(checkCallPath(a, [a, b])).toMatchObject({ ok: false, code: CallRefusal.CYCLE })
    // A path that repeats a version above is refused too, whatever is asked for now.
    expect(checkCallPath(c, [a, b, a])).toMatchObject({ ok: false, code: CallRefusal.CYCLE })
  })

  it('one level down appends the caller', () => {
    expect(callPathBelow(undefined, a)).toEqual([a])
    expect(callPathBelow([a], b)).toEqual([a, b])
  })

  it('a job request carries its path, parsed up to twice the limit so the rule can name it', () => {
    const base = { v: 1, service: e, user: a, requestId: 'ab'.repeat(16), expiresAt: 1 }
    expect(parseJobRequest({ ...base, callPath: [a, b, c, d] }).ok).toBe(true)
    expect(parseJobRequest({ ...base, callPath: ['not-a-key'] }).ok).toBe(false)
    expect(parseJobRequest({ ...base, callPath: Array(9).fill(a) }).ok).toBe(false)
  })
})

describe('the request digest binds the call path', () => {
  it('a top-level request hashes exactly as before (the vectors)', () => {
    expect(requestDigest(request)).toBe(vectors.request.digest)
    expect(requestDigest({ ...request, callPath: [] })).toBe(vectors.request.digest)
  })

  it('a nested request hashes its path, in order', () => {
    const one = requestDigest({ ...request, callPath: [a] })
    expect(one).not.toBe(vectors.request.digest)
    expect(requestDigest({ ...request, callPath: [a, b] })).not.toBe(
      requestDigest({ ...request, callPath: [b, a] }),
    )
  })
})

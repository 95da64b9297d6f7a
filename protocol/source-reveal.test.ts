import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolErrorCode } from './errors.ts'
import { privateCommitment, sourceCommitmentToField } from './source-commitment.ts'
import {
  checkSourceReveal,
  MAX_REVEAL_BYTES,
  parseSourceReveal,
  revealGoalProgress,
  type SourceReveal,
  sourceRevealBytes,
} from './source-reveal.ts'
import { keys, sourceOpening } from './vectors/inputs.ts'

const commitment = privateCommitment(sourceOpening)
const service = {
  address: keys.service.publicKey,
  commitmentField: sourceCommitmentToField(commitment),
}
const reveal: SourceReveal = {
  v: 1,
  kind: 'zkrunner/source-reveal',
  service: keys.service.publicKey,
  commitment,
  provider: 'gitlab',
  ref: 'main',
  job: 'bench',
  ...sourceOpening,
}
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))
const KNOWN_CODES = new Set(Object.values(ProtocolErrorCode))

describe('source reveal', () => {
  it('parses from its canonical bytes and opens the commitment', () => {
    const parsed = parseSourceReveal(sourceRevealBytes(reveal))
    expect(parsed.ok).toBe(true)
    if (parsed.ok) expect(checkSourceReveal(parsed.value, service).ok).toBe(true)
  })

  it.each([
    ['salt', `${sourceOpening.salt.slice(0, -1)}0`],
    ['providerUrl', 'https://gitlab.example.org'],
    ['project', 'acme/public-benchmarks'],
    ['commit', 'b'.repeat(40)],
  ])('names a wrong %s a wrong opening', (field, value) => {
    const r = checkSourceReveal({ ...reveal, [field]: value }, service)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.code).toBe('WRONG_OPENING')
  })

  it('refuses a reveal of another service', () => {
    const r = checkSourceReveal({ ...reveal, service: keys.user.publicKey }, service)
    expect(!r.ok && r.error.path).toEqual(['service'])
  })

  it('refuses oversized, non-UTF-8 and non-JSON bytes with a code', () => {
    const big = parseSourceReveal(new Uint8Array(MAX_REVEAL_BYTES + 1))
    expect(!big.ok && big.error.code).toBe('INVALID_FIELD')
    const latin = parseSourceReveal(new Uint8Array([0x7b, 0xff, 0x7d]))
    expect(!latin.ok && latin.error.code).toBe('MALFORMED_JSON')
    const text = parseSourceReveal(new TextEncoder().encode('{'))
    expect(!text.ok && text.error.code).toBe('MALFORMED_JSON')
  })

  it('fuzz: any mutation of a field or any JSON value gives a coded error or a valid reveal, never a throw', () => {
    const field = fc.constantFrom(...(Object.keys(reveal) as (keyof SourceReveal)[]), 'extra')
    fc.assert(
      fc.property(field, fc.jsonValue(), (key, value) => {
        const r = parseSourceReveal(bytes({ ...reveal, [key]: value }))
        if (!r.ok) expect(KNOWN_CODES).toContain(r.error.code)
        else expect(checkSourceReveal(r.value, service).ok).toBeTypeOf('boolean')
      }),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (raw) => {
        const r = parseSourceReveal(raw)
        expect(r.ok).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('reveal goal progress', () => {
  it('counts earned credits toward the goal, whole percent, capped at reached', () => {
    expect(revealGoalProgress(5000n, 0n)).toEqual({
      goal: 5000n,
      earned: 0n,
      reached: false,
      percent: 0,
    })
    expect(revealGoalProgress(5000n, 1249n)).toMatchObject({ reached: false, percent: 24 })
    expect(revealGoalProgress(5000n, 4999n)).toMatchObject({ reached: false, percent: 99 })
    expect(revealGoalProgress(5000n, 5000n)).toMatchObject({ reached: true, percent: 100 })
    expect(revealGoalProgress(5000n, 9000n)).toMatchObject({ reached: true, percent: 100 })
    expect(revealGoalProgress(0n, 0n)).toMatchObject({ reached: true, percent: 100 })
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { generateMinaKeyPair, nextVoucher, signVoucher } from '../../protocol/index.ts'
import { fundingOf } from './worker-client.ts'

// The funding a Worker returns with a service status is untrusted input to what the page signs.
// Whatever JSON comes back, the page's parser neither throws nor makes up a figure, and the
// amount it would sign stays at or below what it can prove plus one price.

const user = generateMinaKeyPair()
const service = generateMinaKeyPair().publicKey
const price = 5n
const honest = signVoucher(
  { v: 1, user: user.publicKey, service, cumulativeAmount: '40', nonce: '7' },
  user.privateKey,
)
const forged = (() => {
  const stranger = generateMinaKeyPair()
  return {
    ...signVoucher(
      { v: 1, user: stranger.publicKey, service, cumulativeAmount: '900', nonce: '9' },
      stranger.privateKey,
    ),
    user: user.publicKey,
  }
})()

/** Anything a JSON answer can hold at one spot, plus near-misses of the real fields. */
const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    '1000',
    '-1',
    '1e3',
    ' 10',
    '18446744073709551616',
    '99999999999999999999',
    '0x10',
    '',
    1000,
    null,
    honest,
    forged,
    { ...honest, cumulativeAmount: '4000' },
    { ...honest, service: generateMinaKeyPair().publicKey },
    { ...honest, extra: 1 },
    { ...honest, signature: `${honest.signature.slice(0, -2)}xx` },
  ),
)

const statusWith = (owed: unknown, voucher: unknown, shape: number) =>
  shape === 0
    ? { chain: { funding: { owed, voucher } } }
    : shape === 1
      ? { chain: { funding: { owed } } }
      : shape === 2
        ? { chain: { funding: [owed, voucher] } }
        : shape === 3
          ? { chain: null }
          : owed

describe('fundingOf, the page’s parser of the Worker’s funding fields', () => {
  it('reads an honest answer', () => {
    expect(
      fundingOf({ chain: { funding: { deposit: '100', owed: '40', voucher: honest } } }),
    ).toEqual({ owed: 40n, voucher: honest, released: [] })
  })

  it('reads the released jobs the Worker names, only the well-formed ones, at most 20', () => {
    const job = (i: number) => i.toString(16).padStart(32, '0')
    const released = [
      { jobId: job(1), amount: '10', reason: 'agent-lost' },
      { jobId: job(2), amount: '10', reason: 'some-future-reason' },
      // Dropped: not a job id, not an amount, not a reason code, not an object.
      { jobId: '<img src=x onerror=alert(1)>', amount: '10', reason: 'agent-lost' },
      { jobId: job(3), amount: '-1', reason: 'agent-lost' },
      { jobId: job(4), amount: '18446744073709551616', reason: 'agent-lost' },
      { jobId: job(5), amount: '10', reason: 'Agent Lost <b>' },
      { jobId: job(6), amount: 10, reason: 'agent-lost' },
      'job',
      null,
    ]
    expect(fundingOf({ chain: { funding: { owed: '0', released } } }).released).toEqual([
      { jobId: job(1), amount: 10n, reason: 'agent-lost' },
      { jobId: job(2), amount: 10n, reason: 'some-future-reason' },
    ])
    const many = Array.from({ length: 50 }, (_, i) => ({
      jobId: job(i),
      amount: '1',
      reason: 'no-result',
    }))
    expect(fundingOf({ chain: { funding: { released: many } } }).released).toHaveLength(20)
    for (const odd of [undefined, null, {}, 'x', [[]]])
      expect(fundingOf({ chain: { funding: { released: odd } } }).released).toEqual([])
  })

  it('never throws, never invents a figure, and never lets a server raise what is signed', () => {
    fc.assert(
      fc.property(
        anyValue,
        anyValue,
        fc.integer({ min: 0, max: 4 }),
        fc.bigInt({ min: 0n, max: 100n }),
        fc.option(fc.bigInt({ min: 0n, max: 100n }), { nil: undefined }),
        (owed, voucher, shape, settled, own) => {
          const funding = fundingOf(statusWith(owed, voucher, shape))
          if (funding.owed !== undefined) {
            expect(typeof owed).toBe('string')
            expect(String(funding.owed)).toBe(String(BigInt(owed as string)))
            expect(funding.owed < 2n ** 64n).toBe(true)
          }
          const next = nextVoucher({
            user: user.publicKey,
            service,
            price,
            reported: funding.voucher,
            reportedOwed: funding.owed,
            ownRecord: own === undefined ? undefined : { cumulativeAmount: own, nonce: 1n },
            settled,
          })
          // Provable: the settled amount, this browser's own record, and only the honest voucher.
          let provable = settled > (own ?? 0n) ? settled : (own ?? 0n)
          if (funding.voucher === honest && 40n > provable) provable = 40n
          expect(next.cumulativeAmount <= provable + price).toBe(true)
          expect(next.cumulativeAmount >= settled + price).toBe(true)
          if (funding.voucher !== honest) expect(next.source).not.toBe('voucher')
        },
      ),
      { numRuns: 2000 },
    )
  })
})

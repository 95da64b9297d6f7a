import { describe, expect, test } from 'vitest'
import { nextVoucher } from './proven-owed.ts'
import { generateMinaKeyPair } from './signature.ts'
import { parseVoucher, signVoucher } from './voucher.ts'

const user = generateMinaKeyPair()
const service = generateMinaKeyPair().publicKey
const stranger = generateMinaKeyPair()
const price = 5n
const signed = (amount: bigint, nonce: bigint, by = user, svc = service) =>
  signVoucher(
    {
      v: 1,
      user: by.publicKey,
      service: svc,
      cumulativeAmount: String(amount),
      nonce: String(nonce),
    },
    by.privateKey,
  )
const base = { user: user.publicKey, service, price, settled: 10n }

describe('an honest Worker', () => {
  test('its voucher proves what is owed: sign that plus one price, next nonce', () => {
    const next = nextVoucher({ ...base, reported: signed(40n, 7n), reportedOwed: 40n })
    expect(next).toMatchObject({
      provenOwed: 40n,
      source: 'voucher',
      cumulativeAmount: 45n,
      nonce: 8n,
    })
    expect(next.warning).toBeUndefined()
  })
})

describe('a Worker that released a job', () => {
  test('signs from its lower figure: the released job is not in the next voucher', () => {
    // Two jobs of 5 signed (voucher of 20 over 10 settled), then one released: the Worker owes 15.
    const next = nextVoucher({ ...base, reported: signed(20n, 4n), reportedOwed: 15n })
    expect(next).toMatchObject({
      provenOwed: 15n,
      source: 'released',
      cumulativeAmount: 20n,
      nonce: 5n,
    })
    expect(next.warning).toBeUndefined()
  })

  test('never below what was settled on chain, whatever figure it reports', () => {
    const next = nextVoucher({ ...base, reported: signed(20n, 4n), reportedOwed: 3n })
    expect(next).toMatchObject({ provenOwed: 20n, source: 'voucher', cumulativeAmount: 25n })
  })
})

describe('a Worker that inflates what is owed', () => {
  test('with no voucher: own record and settled amount only, and the user is told', () => {
    const next = nextVoucher({
      ...base,
      reportedOwed: 1_000_000n,
      ownRecord: { cumulativeAmount: 20n, nonce: 3n },
    })
    expect(next).toMatchObject({
      provenOwed: 20n,
      source: 'own-record',
      cumulativeAmount: 25n,
      nonce: 4n,
    })
    expect(next.warning).toMatch(/no voucher/)
  })

  test('with nothing but the chain: the settled voucher’s amount and a nonce above it', () => {
    const next = nextVoucher({ ...base, settledNonce: 6n, reportedOwed: 1_000_000n })
    expect(next).toMatchObject({ provenOwed: 10n, source: 'settled', cumulativeAmount: 15n })
    expect(next.nonce).toBe(7n)
    // An own record with an older nonce does not take the nonce back below the settled one.
    const own = nextVoucher({
      ...base,
      settledNonce: 6n,
      ownRecord: { cumulativeAmount: 5n, nonce: 2n },
    })
    expect(own).toMatchObject({ provenOwed: 10n, source: 'settled', nonce: 7n })
  })

  test('with a forged voucher (signed by another key, claiming to be the user’s)', () => {
    const forged = { ...signed(1_000_000n, 9n, stranger), user: user.publicKey }
    const next = nextVoucher({ ...base, reported: forged, reportedOwed: 1_000_000n })
    expect(next).toMatchObject({
      provenOwed: 10n,
      source: 'settled',
      cumulativeAmount: 15n,
      nonce: 1n,
    })
    expect(next.warning).toMatch(/not signed by your key/)
  })

  test('with another user’s genuine voucher, or the user’s for another service', () => {
    const theirs = nextVoucher({
      ...base,
      reported: signed(500n, 9n, stranger),
      reportedOwed: 500n,
    })
    expect(theirs).toMatchObject({ cumulativeAmount: 15n })
    expect(theirs.warning).toMatch(/not yours/)
    const elsewhere = nextVoucher({
      ...base,
      reported: signed(500n, 9n, user, generateMinaKeyPair().publicKey),
      reportedOwed: 500n,
    })
    expect(elsewhere).toMatchObject({ cumulativeAmount: 15n })
    expect(elsewhere.warning).toMatch(/another service/)
  })

  test('with an honest voucher but a larger bare figure: the voucher counts, the figure is flagged', () => {
    const next = nextVoucher({ ...base, reported: signed(40n, 7n), reportedOwed: 90n })
    expect(next.cumulativeAmount).toBe(45n)
    expect(next.warning).toMatch(/reports 90 owed, but your vouchers prove only 40/)
  })

  test('a tampered amount on a genuine voucher does not verify', () => {
    const tampered = { ...signed(40n, 7n), cumulativeAmount: '4000' }
    expect(nextVoucher({ ...base, reported: tampered }).cumulativeAmount).toBe(15n)
  })
})

test('never more than the largest proven amount plus one price, whatever the Worker sends', () => {
  const junk: unknown[] = [
    null,
    0,
    'x',
    [],
    {},
    { v: 1 },
    { ...signed(1n, 1n), extra: 1 },
    signed(3n, 2n),
  ]
  for (const reported of junk) {
    for (const own of [undefined, { cumulativeAmount: 7n, nonce: 2n }]) {
      const next = nextVoucher({
        ...base,
        settled: 2n,
        reported,
        reportedOwed: 10n ** 12n,
        ownRecord: own,
      })
      const proven = [2n, own?.cumulativeAmount ?? 0n, reported === junk.at(-1) ? 3n : 0n]
      const max = proven.reduce((a, b) => (a > b ? a : b))
      expect(next.cumulativeAmount).toBe(max + price)
    }
  }
})

test('fuzz: random and mutated voucher fields never throw and never raise the amount', () => {
  const genuine = signed(30n, 4n)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!
  const junk = (): unknown =>
    pick<unknown>([
      null,
      undefined,
      -1,
      Number.POSITIVE_INFINITY,
      '',
      '30',
      '-5',
      '1'.repeat(40),
      '0x1e',
      [],
      {},
      true,
      { toString: 1 },
      stranger.publicKey,
      genuine.signature,
    ])
  const keys = Object.keys(genuine) as (keyof typeof genuine)[]
  for (let i = 0; i < 300; i++) {
    const reported: Record<string, unknown> = { ...genuine }
    for (let k = 0; k <= i % 3; k++) reported[pick(keys)] = junk()
    if (i % 7 === 0) reported[`extra${i}`] = junk()
    const sent = i % 11 === 0 ? junk() : reported
    const next = nextVoucher({ ...base, settled: 0n, reported: sent, reportedOwed: 10n ** 9n })
    // Only the untouched genuine voucher proves 30 (a mutation can put back the same value);
    // anything else proves nothing.
    const untouched = JSON.stringify(sent) === JSON.stringify(genuine)
    expect(next.cumulativeAmount).toBe((untouched ? 30n : 0n) + price)
  }
})

test('a voucher amount that is not a number is a parse error, not a throw (found by the fuzz above)', () => {
  const r = parseVoucher({ ...signed(1n, 1n), cumulativeAmount: stranger.publicKey })
  expect(!r.ok && r.error.code).toBe('INVALID_FIELD')
})

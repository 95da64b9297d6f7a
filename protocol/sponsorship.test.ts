import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolErrorCode } from './errors.ts'
import { serviceAvailability } from './service-availability.ts'
import { generateMinaKeyPair, signFields } from './signature.ts'
import {
  MAX_POOL_VOUCHERS,
  nextPoolVoucher,
  parseSponsoredSubmission,
  parseSponsorshipGrant,
  signSponsoredRequest,
  signSponsorshipGrant,
  sponsorshipMessage,
  verifySponsoredSubmission,
  verifySponsorshipGrant,
} from './sponsorship.ts'
import { keys } from './vectors/inputs.ts'
import { signVoucher, verifyVoucher } from './voucher.ts'

const sponsor = generateMinaKeyPair()
const user = generateMinaKeyPair()
const service = keys.service.publicKey
const terms = {
  v: 1 as const,
  service,
  sponsor: sponsor.publicKey,
  jobsPerUserPerDay: 3,
  endSlot: '5000',
  cap: '30',
}
const grant = signSponsorshipGrant(terms, { firstNonce: 1n, count: 4 }, sponsor.privateKey)
const KNOWN_CODES = new Set(Object.values(ProtocolErrorCode))

const request = {
  v: 1 as const,
  service,
  user: user.publicKey,
  requestId: '00112233445566778899aabbccddeeff',
  parameters: {},
  expiresAt: 1_893_456_000,
}

describe('sponsorship grant', () => {
  it('parses and verifies: the sponsorship and every pool voucher are the sponsor’s', () => {
    const parsed = parseSponsorshipGrant(JSON.parse(JSON.stringify(grant)))
    expect(parsed.ok).toBe(true)
    expect(verifySponsorshipGrant(grant)).toEqual({ ok: true, value: true })
    expect(grant.vouchers.map((v) => [v.user, v.cumulativeAmount, v.nonce])).toEqual(
      [1, 2, 3, 4].map((n) => [sponsor.publicKey, '30', String(n)]),
    )
  })

  it.each([
    ['jobsPerUserPerDay', 4],
    ['endSlot', '5001'],
    ['cap', '31'],
    ['service', keys.user.publicKey],
  ] as const)('a changed %s no longer verifies', (field, value) => {
    const tampered = { ...grant, sponsorship: { ...grant.sponsorship, [field]: value } }
    const r = verifySponsorshipGrant(tampered)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.path).toEqual(['sponsorship', 'signature'])
  })

  it('a voucher signed by another key than the sponsor is named', () => {
    const forged = signVoucher({ ...grant.vouchers[1]!, nonce: '2' }, user.privateKey)
    const r = verifySponsorshipGrant({ ...grant, vouchers: [grant.vouchers[0]!, forged] })
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.path).toEqual(['vouchers', 1, 'signature'])
  })

  it.each([
    ['service', { service: keys.user.publicKey }, 'voucher is for another service'],
    ['user', { user: user.publicKey }, 'voucher is not for the sponsor’s channel'],
    ['cumulativeAmount', { cumulativeAmount: '1000' }, 'voucher amount is not the cap'],
    ['nonce', { nonce: '1' }, 'voucher nonces must strictly increase'],
  ] as const)(
    'a bundle voucher with a wrong %s is refused with its path',
    (field, change, message) => {
      const vouchers = grant.vouchers.map((v, i) => (i === 2 ? { ...v, ...change } : v))
      const r = parseSponsorshipGrant({ ...grant, vouchers })
      expect(r.ok).toBe(false)
      if (!r.ok) {
        expect(r.error.message).toContain(message)
        expect(r.error.path).toEqual(['vouchers', 2, field])
      }
    },
  )

  it('refuses an empty bundle, an oversized one, a zero cap and limits out of range', () => {
    const cases: [unknown, (string | number)[]][] = [
      [{ ...grant, vouchers: [] }, ['vouchers']],
      [{ ...grant, vouchers: Array(MAX_POOL_VOUCHERS + 1).fill(grant.vouchers[0]) }, ['vouchers']],
      [{ ...grant, sponsorship: { ...grant.sponsorship, cap: '0' } }, ['sponsorship', 'cap']],
      [
        { ...grant, sponsorship: { ...grant.sponsorship, jobsPerUserPerDay: 0 } },
        ['sponsorship', 'jobsPerUserPerDay'],
      ],
      [
        { ...grant, sponsorship: { ...grant.sponsorship, endSlot: '-1' } },
        ['sponsorship', 'endSlot'],
      ],
      [{ ...grant, extra: 1 }, ['extra']],
    ]
    for (const [input, path] of cases) {
      const r = parseSponsorshipGrant(input)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error.path).toEqual(path)
    }
  })

  it('fuzz: any value in any field of the sponsorship is a clear error or a valid grant, never a throw', () => {
    const fields = ['v', 'service', 'sponsor', 'jobsPerUserPerDay', 'endSlot', 'cap', 'signature']
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.anything(), (field, value) => {
        const input = { ...grant, sponsorship: { ...grant.sponsorship, [field]: value } }
        const r = parseSponsorshipGrant(input)
        if (r.ok) {
          // A value that parses is still checked by its signature: only the signed one verifies.
          const verified = verifySponsorshipGrant(r.value)
          if (verified.ok) expect(r.value.sponsorship).toEqual(grant.sponsorship)
          return
        }
        expect(KNOWN_CODES.has(r.error.code)).toBe(true)
        expect(r.error.message.length).toBeGreaterThan(0)
        expect(r.error.path[0]).toBe('sponsorship')
      }),
      { numRuns: 400 },
    )
  })

  it('the sponsorship’s domain keeps it from passing as a voucher of the same key', () => {
    const fields = sponsorshipMessage(grant.sponsorship)
    const asVoucher = {
      v: 1 as const,
      user: sponsor.publicKey,
      service,
      cumulativeAmount: String(fields[3]),
      nonce: String(fields[4]),
      signature: grant.sponsorship.signature,
    }
    expect(verifyVoucher(asVoucher).ok).toBe(false)
  })
})

describe('pool vouchers', () => {
  it('the next sponsored job takes the first voucher above the pool’s last nonce; none once spent', () => {
    expect(nextPoolVoucher(grant.vouchers, 0n)?.nonce).toBe('1')
    expect(nextPoolVoucher(grant.vouchers, 2n)?.nonce).toBe('3')
    // A withdrawal closes the channel at a nonce ≥ the bundle's last: every voucher is stale.
    expect(nextPoolVoucher(grant.vouchers, 4n)).toBeNull()
  })
})

describe('sponsored request', () => {
  const submission = signSponsoredRequest(request, sponsor.publicKey, user.privateKey)

  it('the user’s signature binds the service, the sponsor, the request id and its expiry', () => {
    expect(parseSponsoredSubmission(JSON.parse(JSON.stringify(submission))).ok).toBe(true)
    expect(verifySponsoredSubmission(submission).ok).toBe(true)
    const other = generateMinaKeyPair().publicKey
    for (const tampered of [
      { ...submission, request: { ...request, requestId: 'ff112233445566778899aabbccddeeff' } },
      { ...submission, request: { ...request, expiresAt: request.expiresAt + 1 } },
      { ...submission, request: { ...request, user: other } },
      { ...submission, sponsored: { ...submission.sponsored, sponsor: other } },
    ]) {
      const r = verifySponsoredSubmission(tampered)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.error.path).toEqual(['sponsored', 'signature'])
    }
  })

  it('refuses a sponsored submission that also carries a voucher, and one without a sponsor', () => {
    const withVoucher = { ...submission, voucher: grant.vouchers[0] }
    const r = parseSponsoredSubmission(withVoucher)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.code).toBe(ProtocolErrorCode.UNKNOWN_FIELD)
    const noSponsor = parseSponsoredSubmission({
      request,
      sponsored: { signature: submission.sponsored.signature },
    })
    expect(noSponsor.ok).toBe(false)
    if (!noSponsor.ok) expect(noSponsor.error.path).toEqual(['sponsored', 'sponsor'])
  })

  it('a signature over the same fields under another domain does not verify', () => {
    const fields = [1n, 2n, 3n]
    const forged = {
      ...submission,
      sponsored: { ...submission.sponsored, signature: signFields(fields, user.privateKey) },
    }
    expect(verifySponsoredSubmission(forged).ok).toBe(false)
  })
})

describe('funding-exhausted by the one availability rule', () => {
  const base = {
    heartbeat: { lastHeartbeatSlot: 100n, settledJobs: 0n },
    currentSlot: 105n,
    maxHeartbeatAgeSlots: 10n,
  }
  it('the pool pays while its fundable covers one job; not once it is short, ended or spent', () => {
    const pool = (fundable: bigint, open?: boolean) =>
      serviceAvailability({
        ...base,
        pool: { fundable, pricePerJob: 10n, ...(open === undefined ? {} : { open }) },
      })
    expect(pool(10n)).toEqual({ enabled: true })
    expect(pool(9n)).toEqual({ enabled: false, reason: 'funding-exhausted' })
    expect(pool(1000n, false)).toEqual({ enabled: false, reason: 'funding-exhausted' })
    // A stale heartbeat is named before the pool.
    expect(
      serviceAvailability({ ...base, currentSlot: 200n, pool: { fundable: 0n, pricePerJob: 10n } }),
    ).toEqual({
      enabled: false,
      reason: 'stale-heartbeat',
    })
  })
})

import { describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  generateMinaKeyPair,
  JOB_REQUEST_INFO,
  openJson,
  parseSponsoredSubmission,
  type ServiceDescriptor,
  verifySponsoredSubmission,
  verifySponsorshipGrant,
} from '../../protocol/index.ts'
import { SiteError } from './errors.ts'
import {
  buildSealedSponsoredRequest,
  PAGE_POOL_VOUCHERS,
  poolSummary,
  poolsOf,
  signGrantWithWallet,
} from './sponsorship.ts'
import { devKeyWallet } from './wallet/dev-key.ts'

const service = generateMinaKeyPair().publicKey

describe('the sponsor’s wallet signs a grant', () => {
  it('a sponsorship and one voucher per job the cap pays, each for the cap, that the Worker verifies', async () => {
    const sponsor = devKeyWallet(generateMinaKeyPair().privateKey)
    const grant = await signGrantWithWallet(
      { service, price: 10n, jobsPerUserPerDay: 3, endSlot: 5000n, cap: 30n, firstNonce: 7n },
      sponsor,
    )
    expect(verifySponsorshipGrant(grant).ok).toBe(true)
    expect(grant.sponsorship.sponsor).toBe(sponsor.publicKey)
    expect(grant.vouchers.map((v) => [v.nonce, v.cumulativeAmount])).toEqual([
      ['7', '30'],
      ['8', '30'],
      ['9', '30'],
    ])
  })

  it('at most PAGE_POOL_VOUCHERS vouchers, and never a cap below one job', async () => {
    const sponsor = devKeyWallet(generateMinaKeyPair().privateKey)
    const big = await signGrantWithWallet(
      { service, price: 1n, jobsPerUserPerDay: 1, endSlot: 9n, cap: 1000n, firstNonce: 1n },
      sponsor,
    )
    expect(big.vouchers).toHaveLength(PAGE_POOL_VOUCHERS)
    await expect(
      signGrantWithWallet(
        { service, price: 10n, jobsPerUserPerDay: 1, endSlot: 9n, cap: 9n, firstNonce: 1n },
        sponsor,
      ),
    ).rejects.toBeInstanceOf(SiteError)
  })
})

describe('a sponsored request', () => {
  it('seals the request and the user’s signature, no voucher, to the Worker key', async () => {
    const worker = await generateHpkeKeyPair()
    const descriptor = {
      v: 1,
      name: 'x',
      description: '',
      provider: 'gitlab',
      providerUrl: 'http://127.0.0.1/',
      project: 'p',
      ref: 'main',
      job: 'test',
      sourceCommitment: 'a'.repeat(40),
      pricePerJob: '5',
      runnerPublicKey: generateMinaKeyPair().publicKey,
      workerPublicKey: worker.publicKey,
      parameters: [{ name: 'N', type: 'integer', min: 1, max: 3, required: true }],
    } satisfies ServiceDescriptor
    const user = devKeyWallet(generateMinaKeyPair().privateKey)
    const sponsor = generateMinaKeyPair().publicKey
    const { envelope } = await buildSealedSponsoredRequest(
      { service, descriptor, values: { N: 2 }, sponsor },
      user,
    )
    const opened = await openJson([worker], envelope, JOB_REQUEST_INFO)
    if (!opened.ok) throw opened.error
    const parsed = parseSponsoredSubmission(opened.value)
    if (!parsed.ok) throw parsed.error
    expect(parsed.value.sponsored.sponsor).toBe(sponsor)
    expect(verifySponsoredSubmission(parsed.value).ok).toBe(true)
    await expect(
      buildSealedSponsoredRequest({ service, descriptor, values: { N: 9 }, sponsor }, user),
    ).rejects.toBeInstanceOf(SiteError)
  })
})

describe('poolsOf reads the Worker’s pools defensively', () => {
  it('keeps well-formed pools and drops any other shape', () => {
    const good = {
      sponsor: 'B62q…',
      enabled: false,
      reason: 'funding-exhausted',
      jobsLeft: '0',
      pool: { deposit: '30', owed: '30', fundable: '0' },
      allowance: { used: 2, left: 1 },
    }
    expect(
      poolsOf({
        sponsorships: [
          good,
          { ...good, jobsLeft: '-1' },
          { ...good, pool: { fundable: 1e30 } },
          { ...good, enabled: 'yes' },
          null,
          'x',
        ],
      }),
    ).toEqual([
      {
        sponsor: 'B62q…',
        enabled: false,
        reason: 'funding-exhausted',
        jobsLeft: 0n,
        fundable: 0n,
        allowanceLeft: 1,
      },
    ])
    expect(poolsOf({ sponsorships: { not: 'a list' } })).toEqual([])
    expect(poolsOf(null)).toEqual([])
    expect(
      poolsOf({ sponsorships: [{ ...good, allowance: { left: -3 } }] })[0]?.allowanceLeft,
    ).toBe(undefined)
  })
})

describe('poolSummary', () => {
  it('says what the pool can pay, or why it is off, and the user’s jobs left today', () => {
    const pool = {
      sponsor: 'B62qsponsorkey',
      enabled: true,
      reason: undefined,
      jobsLeft: 1n,
      fundable: 10n,
      allowanceLeft: 2,
    }
    expect(poolSummary(pool)).toBe(
      'Sponsored by B62qsponso…: 1 free job left (10 credits) · you may run 2 more today',
    )
    expect(
      poolSummary({
        ...pool,
        enabled: false,
        reason: 'funding-exhausted',
        allowanceLeft: undefined,
      }),
    ).toBe('Sponsored by B62qsponso…: pool off: funding-exhausted')
  })
})

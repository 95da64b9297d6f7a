import {
  type Envelope,
  JOB_REQUEST_INFO,
  newRequestId,
  type ParameterValues,
  parseSponsoredSubmission,
  parseSponsorshipGrant,
  type RequestBinding,
  type ServiceDescriptor,
  type SponsoredSubmission,
  type SponsorshipGrant,
  sealJson,
  sponsoredRequestMessage,
  sponsorshipMessage,
  validateParameters,
  voucherMessage,
} from '../../protocol/index.ts'
import { SiteError, SiteErrorCode } from './errors.ts'
import { REQUEST_TTL_SECONDS } from './request.ts'
import type { Wallet } from './wallet/wallet.ts'

// The page's side of a sponsorship (protocol/sponsorship.ts): the sponsor's wallet signs the
// sponsorship and its pool vouchers, never handing a key to a server; a user's wallet signs a
// sponsored request; a pool the Worker reports is read defensively (the Worker is not trusted).

/**
 * Pool vouchers a sponsor signs at most from the page: each is one wallet prompt with Auro, and
 * each sponsored job uses one. A later grant (nonces above this bundle's) adds more.
 */
export const PAGE_POOL_VOUCHERS = 16

/** What the "Sponsor this service" form asks. */
export interface SponsorInput {
  service: string
  /** The chain's frozen price of one job. */
  price: bigint
  jobsPerUserPerDay: number
  endSlot: bigint
  /** Credits the pool pays in all, at most. */
  cap: bigint
  /** The first voucher nonce (above the pool channel's last: the ledger skips stale ones). */
  firstNonce: bigint
}

/**
 * Signs a sponsorship and its pool vouchers with the sponsor's wallet: as many vouchers as the
 * cap pays jobs, at most PAGE_POOL_VOUCHERS, each for the cap.
 */
export async function signGrantWithWallet(
  input: SponsorInput,
  wallet: Wallet,
): Promise<SponsorshipGrant> {
  if (input.price <= 0n || input.cap < input.price) {
    throw new SiteError(SiteErrorCode.INVALID_INPUT, 'the cap must pay at least one job')
  }
  const jobs = input.cap / input.price
  const count = Number(jobs < BigInt(PAGE_POOL_VOUCHERS) ? jobs : BigInt(PAGE_POOL_VOUCHERS))
  const unsigned = {
    v: 1 as const,
    service: input.service,
    sponsor: wallet.publicKey,
    jobsPerUserPerDay: input.jobsPerUserPerDay,
    endSlot: String(input.endSlot),
    cap: String(input.cap),
  }
  const signature = await wallet.signFields(sponsorshipMessage(unsigned))
  const vouchers = []
  for (let i = 0; i < count; i++) {
    const nonce = input.firstNonce + BigInt(i)
    vouchers.push({
      v: 1 as const,
      user: wallet.publicKey,
      service: input.service,
      cumulativeAmount: String(input.cap),
      nonce: String(nonce),
      signature: await wallet.signFields(
        voucherMessage({ service: input.service, cumulativeAmount: input.cap, nonce }),
      ),
    })
  }
  const parsed = parseSponsorshipGrant({ sponsorship: { ...unsigned, signature }, vouchers })
  if (!parsed.ok) throw new SiteError(SiteErrorCode.INVALID_INPUT, parsed.error.message)
  return parsed.value
}

/** Signs and seals a sponsored request: the user's signature, no voucher; the sponsor's pool pays. */
export async function buildSealedSponsoredRequest(
  input: {
    service: string
    descriptor: ServiceDescriptor
    values: ParameterValues
    sponsor: string
    now?: number
  },
  wallet: Wallet,
): Promise<{ envelope: Envelope; submission: SponsoredSubmission; binding: RequestBinding }> {
  const checked = validateParameters(input.descriptor.parameters, input.values)
  if (!checked.ok) throw new SiteError(SiteErrorCode.INVALID_INPUT, checked.error.message)
  const now = input.now ?? Math.floor(Date.now() / 1000)
  const request = {
    v: 1 as const,
    service: input.service,
    user: wallet.publicKey,
    requestId: newRequestId(),
    parameters: input.values,
    expiresAt: now + REQUEST_TTL_SECONDS,
  }
  const signature = await wallet.signFields(
    sponsoredRequestMessage({ ...request, sponsor: input.sponsor }),
  )
  const parsed = parseSponsoredSubmission({
    request,
    sponsored: { sponsor: input.sponsor, signature },
  })
  if (!parsed.ok) throw new SiteError(SiteErrorCode.INVALID_INPUT, parsed.error.message)
  const envelope = await sealJson(input.descriptor.workerPublicKey, JOB_REQUEST_INFO, parsed.value)
  // What the result must answer: the parameters as the Worker passes them to the job.
  const binding = {
    requestId: request.requestId,
    service: input.service,
    user: wallet.publicKey,
    parameters: checked.value,
  }
  return { envelope, submission: parsed.value, binding }
}

/** One sponsor's pool as the page shows it (from the Worker's status, read defensively). */
export interface ReportedPool {
  sponsor: string
  enabled: boolean
  reason: string | undefined
  jobsLeft: bigint
  /** What the pool may still pay, in credits. */
  fundable: bigint
  /** The user's jobs left today on this pool (with their signed status query), else undefined. */
  allowanceLeft: number | undefined
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x)
const amount = (x: unknown): bigint | undefined =>
  typeof x === 'string' && /^\d{1,20}$/.test(x) && BigInt(x) < 2n ** 64n ? BigInt(x) : undefined

/**
 * The pools a `GET /v1/services/:address` answer lists. The Worker is not trusted: an entry of
 * any other shape is left out rather than shown with figures it made up.
 */
export function poolsOf(status: unknown): ReportedPool[] {
  const list = isRecord(status) ? status.sponsorships : undefined
  if (!Array.isArray(list)) return []
  return list.flatMap((p): ReportedPool[] => {
    if (!isRecord(p) || typeof p.sponsor !== 'string' || typeof p.enabled !== 'boolean') return []
    const jobsLeft = amount(p.jobsLeft)
    const fundable = isRecord(p.pool) ? amount(p.pool.fundable) : undefined
    if (jobsLeft === undefined || fundable === undefined) return []
    const left = isRecord(p.allowance) ? p.allowance.left : undefined
    return [
      {
        sponsor: p.sponsor,
        enabled: p.enabled,
        reason: typeof p.reason === 'string' ? p.reason : undefined,
        jobsLeft,
        fundable,
        allowanceLeft:
          Number.isSafeInteger(left) && (left as number) >= 0 ? (left as number) : undefined,
      },
    ]
  })
}

/**
 * One line per pool for the market: what it can still pay, or why it pays nothing (protocol's
 * reason code), and the user's jobs left today when known.
 */
export function poolSummary(pool: ReportedPool): string {
  const state = pool.enabled
    ? `${pool.jobsLeft} free job${pool.jobsLeft === 1n ? '' : 's'} left (${pool.fundable} credits)`
    : `pool off: ${pool.reason ?? 'unknown'}`
  const allowance =
    pool.allowanceLeft === undefined ? '' : ` · you may run ${pool.allowanceLeft} more today`
  return `Sponsored by ${pool.sponsor.slice(0, 10)}…: ${state}${allowance}`
}

import { z } from 'zod'
import { SPONSORED_REQUEST_DOMAIN, SPONSORSHIP_DOMAIN } from './domains.ts'
import { fail, ok, type Result, unwrap } from './errors.ts'
import { JobRequestSchema } from './job-request.ts'
import { publicKeyToFields } from './mina-key.ts'
import { parseWith } from './parse.ts'
import { PublicKeySchema, SignatureSchema, Uint64Schema } from './primitives.ts'
import { signFields, verifyFields } from './signature.ts'
import { signVoucher, type Voucher, VoucherSchema, verifyVoucher } from './voucher.ts'

// A sponsor pays for other users' jobs from a POOL: the sponsor's own channel in the service's
// ChannelLedger (anyone may deposit for any channel). The ledger pays the runner from a channel
// only on a claim carrying a voucher the channel's key signed, for price × the results newly
// committed, never above the voucher's amount or the deposit, and only at a fresh nonce. So the
// sponsor authorises spending without handing a key to any server: it signs, once, a sponsorship
// (the limits the Worker enforces per user) and a bundle of vouchers for its channel at increasing
// nonces, each for the cap. The Worker hands the runner one voucher per sponsored job; a voucher
// pays only the service's runner, only for results it commits, never past the cap or the pool.
// A withdrawal (requestWithdraw at a close nonce ≥ the bundle's last) returns the remainder and
// makes every voucher of the bundle stale.

/** Vouchers in one bundle at most: each sponsored job uses one, so this bounds a grant's jobs. */
export const MAX_POOL_VOUCHERS = 256

/** Jobs one user may run on a sponsor's pool per UTC day, at most (a sponsorship sets its own). */
export const MAX_JOBS_PER_USER_PER_DAY = 10_000

// zod runs refinements after a failed regex too: only a decimal is read as a number.
const positive = (s: string) => !/^[0-9]+$/.test(s) || BigInt(s) > 0n

/** A sponsor's signed terms for paying a service version's jobs from its pool channel. */
export const SponsorshipSchema = z.strictObject({
  v: z.literal(1),
  /** The service contract's address (one address is one version). */
  service: PublicKeySchema,
  /** The sponsor's key: its channel in the service's ledger is the pool. */
  sponsor: PublicKeySchema,
  /** Jobs one user may run per UTC day on this pool. */
  jobsPerUserPerDay: z.int().min(1).max(MAX_JOBS_PER_USER_PER_DAY),
  /** The global slot from which the pool pays for no new job. */
  endSlot: Uint64Schema,
  /** Credits the pool pays in all, at most (every voucher of the bundle is for this amount). */
  cap: Uint64Schema.refine(positive, 'must be above 0'),
  signature: SignatureSchema,
})
/** A sponsor's signed terms. */
export type Sponsorship = z.infer<typeof SponsorshipSchema>
/** A sponsorship before it is signed. */
export type UnsignedSponsorship = Omit<Sponsorship, 'signature'>

/** The Field sequence a sponsorship signs. */
export function sponsorshipMessage(s: UnsignedSponsorship): bigint[] {
  const [sx, sOdd] = unwrap(publicKeyToFields(s.service))
  const [px, pOdd] = unwrap(publicKeyToFields(s.sponsor))
  return [
    SPONSORSHIP_DOMAIN,
    sx,
    sOdd,
    px,
    pOdd,
    BigInt(s.jobsPerUserPerDay),
    BigInt(s.endSlot),
    BigInt(s.cap),
  ]
}

/** Signs a sponsorship with the sponsor's key (a wallet signs `sponsorshipMessage` the same way). */
export function signSponsorship(s: UnsignedSponsorship, sponsorPrivateKey: string): Sponsorship {
  const { v, service, sponsor, jobsPerUserPerDay, endSlot, cap } = s
  const unsigned = { v, service, sponsor, jobsPerUserPerDay, endSlot, cap }
  return { ...unsigned, signature: signFields(sponsorshipMessage(unsigned), sponsorPrivateKey) }
}

/** Checks the sponsor's signature on a sponsorship. */
export function verifySponsorship(s: Sponsorship): Result<true> {
  const r = verifyFields(sponsorshipMessage(s), s.signature, s.sponsor)
  return r.ok ? r : fail(r.error.code, r.error.message, ['signature'])
}

/**
 * What a sponsor gives the Worker: its sponsorship and the vouchers for its pool channel, nonces
 * strictly increasing, each for the cap, signed by the sponsor for this service. Public-safe: a
 * voucher only lets the service's runner claim results it commits.
 */
export const SponsorshipGrantSchema = z
  .strictObject({
    sponsorship: SponsorshipSchema,
    vouchers: z.array(VoucherSchema).min(1).max(MAX_POOL_VOUCHERS),
  })
  .superRefine((g, ctx) => {
    const { service, sponsor, cap } = g.sponsorship
    let last = -1n
    g.vouchers.forEach((v, i) => {
      const at = (field: string, message: string) =>
        ctx.addIssue({ code: 'custom', message, path: ['vouchers', i, field] })
      if (v.service !== service) at('service', 'voucher is for another service')
      if (v.user !== sponsor) at('user', 'voucher is not for the sponsor’s channel')
      if (v.cumulativeAmount !== cap) at('cumulativeAmount', 'voucher amount is not the cap')
      if (!/^[0-9]+$/.test(v.nonce)) return
      const nonce = BigInt(v.nonce)
      if (nonce <= last) at('nonce', 'voucher nonces must strictly increase')
      last = nonce
    })
  })
/** A sponsorship and its voucher bundle. */
export type SponsorshipGrant = z.infer<typeof SponsorshipGrantSchema>

/** Validates an untrusted grant (shape and consistency; see verifySponsorshipGrant). */
export const parseSponsorshipGrant = (input: unknown): Result<SponsorshipGrant> =>
  parseWith(SponsorshipGrantSchema, input)

/** Checks every signature of a grant: the sponsorship's and each voucher's. */
export function verifySponsorshipGrant(g: SponsorshipGrant): Result<true> {
  const s = verifySponsorship(g.sponsorship)
  if (!s.ok) return fail(s.error.code, s.error.message, ['sponsorship', 'signature'])
  for (const [i, v] of g.vouchers.entries()) {
    const r = verifyVoucher(v)
    if (!r.ok) return fail(r.error.code, r.error.message, ['vouchers', i, 'signature'])
  }
  return ok(true)
}

/** Signs a sponsorship and `count` pool vouchers at nonces `firstNonce`, `firstNonce + 1`, …. */
export function signSponsorshipGrant(
  s: UnsignedSponsorship,
  bundle: { firstNonce: bigint; count: number },
  sponsorPrivateKey: string,
): SponsorshipGrant {
  const vouchers = Array.from({ length: bundle.count }, (_, i) =>
    signVoucher(
      {
        v: 1,
        user: s.sponsor,
        service: s.service,
        cumulativeAmount: s.cap,
        nonce: String(bundle.firstNonce + BigInt(i)),
      },
      sponsorPrivateKey,
    ),
  )
  return { sponsorship: signSponsorship(s, sponsorPrivateKey), vouchers }
}

/**
 * The pool voucher the next sponsored job carries: the first of the bundle above `aboveNonce`
 * (the highest nonce the pool used or the ledger closed), or null when the bundle is spent.
 */
export function nextPoolVoucher(vouchers: readonly Voucher[], aboveNonce: bigint): Voucher | null {
  return vouchers.find((v) => BigInt(v.nonce) > aboveNonce) ?? null
}

/** What a user adds to a request to run it on a sponsor's pool: the sponsor and their own signature. */
export const SponsoredSchema = z.strictObject({
  /** The sponsor whose pool pays (the sponsorship's `sponsor`). */
  sponsor: PublicKeySchema,
  /** The request's user's signature over sponsoredRequestMessage. */
  signature: SignatureSchema,
})

/** What the page seals to the Worker for a sponsored job: the request and the user's signature, no voucher. */
export const SponsoredSubmissionSchema = z.strictObject({
  request: JobRequestSchema,
  sponsored: SponsoredSchema,
})
/** The sealed content of POST /v1/jobs for a job a sponsor's pool pays for. */
export type SponsoredSubmission = z.infer<typeof SponsoredSubmissionSchema>

/** Validates an untrusted (decrypted) sponsored submission. */
export const parseSponsoredSubmission = (input: unknown): Result<SponsoredSubmission> =>
  parseWith(SponsoredSubmissionSchema, input)

/**
 * The Field sequence a user signs to run one request on a sponsor's pool: the service, the
 * sponsor, the request id (128 bits, used once) and its expiry, so the signature counts for one
 * job on one pool and nobody can spend the user's daily allowance in their name.
 */
export function sponsoredRequestMessage(r: {
  service: string
  sponsor: string
  requestId: string
  expiresAt: number
}): bigint[] {
  const [sx, sOdd] = unwrap(publicKeyToFields(r.service))
  const [px, pOdd] = unwrap(publicKeyToFields(r.sponsor))
  return [
    SPONSORED_REQUEST_DOMAIN,
    sx,
    sOdd,
    px,
    pOdd,
    BigInt(`0x${r.requestId}`),
    BigInt(r.expiresAt),
  ]
}

/** Signs a sponsored request with the user's key. */
export function signSponsoredRequest(
  request: SponsoredSubmission['request'],
  sponsor: string,
  userPrivateKey: string,
): SponsoredSubmission {
  return {
    request,
    sponsored: {
      sponsor,
      signature: signFields(sponsoredRequestMessage({ ...request, sponsor }), userPrivateKey),
    },
  }
}

/** Checks the user's signature on a sponsored submission. */
export function verifySponsoredSubmission(s: SponsoredSubmission): Result<true> {
  const message = sponsoredRequestMessage({ ...s.request, sponsor: s.sponsored.sponsor })
  const r = verifyFields(message, s.sponsored.signature, s.request.user)
  return r.ok ? r : fail(r.error.code, r.error.message, ['sponsored', 'signature'])
}

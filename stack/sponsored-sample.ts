// The local stack's sponsored service: the sample job again, as a service version whose jobs a
// sponsor's pool pays (README: "Sponsoring a service"). It runs from a GitLab stand-in project of
// its own (the same source and commit as the public sample), so its pipelines are told apart.
// The sponsor is a dev account: it deposits into its own channel in the service's ledger (the
// pool) and signs, with its key and nowhere else, the sponsorship and its pool vouchers, which it
// then offers to the Worker as the page's "Sponsor this service" does.

import type { PrivateKey } from 'o1js'
import { deposit, type FeePayer, readUserChannel } from '../contracts/index.ts'
import type { PublicServiceDescriptor, SponsorshipGrant } from '../protocol/index.ts'
import { signGrantWithWallet } from '../static-site/src/sponsorship.ts'
import { devKeyWallet } from '../static-site/src/wallet/dev-key.ts'
import { WorkerClient } from '../static-site/src/worker-client.ts'
import { pk } from './sample-job.ts'

/** The sponsored sample's project on the GitLab stand-in. */
export const SPONSORED_PROJECT = { id: 3, path: 'zkrunner/sponsored-primes' } as const

/** Jobs the stack's pool pays (the e2e's fourth request is refused funding-exhausted). */
export const SPONSORED_POOL_JOBS = 3n
/**
 * Jobs' worth of credits the sponsor deposits beyond what its cap lets the pool pay: the cap, not
 * the deposit, bounds what the runner is paid, and the rest comes back through the withdrawal.
 */
export const SPONSOR_SPARE_JOBS = 2n
/** Jobs one user may run on the stack's pool per UTC day. */
export const SPONSORED_JOBS_PER_USER_PER_DAY = 2
/** Slots the stack's sponsorship lasts (about a month of 3-minute slots; the local chain's are 3 s). */
const SPONSORSHIP_SLOTS = 14_400n

/** The sponsored version of `sample`: its own project, the same source and price. */
export function sponsoredSample(sample: PublicServiceDescriptor): PublicServiceDescriptor {
  return {
    ...sample,
    name: 'Count primes (sponsored sample)',
    description:
      'The sample job, paid for by a sponsor’s pool: users run it free, a few jobs a day each, until the pool runs dry.',
    project: String(SPONSORED_PROJECT.id),
  }
}

/** What the stack set up for its sponsor: the grant it offered, or why it offered none. */
export type SponsorPoolSetup =
  | { offered: true; grant: SponsorshipGrant; deposited: bigint }
  | { offered: false; why: string }

/**
 * Makes the sponsor's pool pay SPONSORED_POOL_JOBS more jobs and offers the Worker a grant for
 * them: tops the sponsor's channel up to those jobs and SPONSOR_SPARE_JOBS more, then signs a sponsorship whose cap is
 * what the channel paid so far plus those jobs (every voucher is for the cap, a cumulative amount)
 * and whose voucher nonces start at the clock's milliseconds, above any earlier grant's. A pool
 * with a withdrawal pending is left alone: its sponsor is taking the remainder back.
 */
export async function ensureSponsorPool(input: {
  payer: FeePayer
  service: string
  sponsorKey: PrivateKey
  price: bigint
  currentSlot: bigint
  workerUrl: string
  log: (line: string) => void
}): Promise<SponsorPoolSetup> {
  const { payer, service, sponsorKey, price, log } = input
  const sponsor = sponsorKey.toPublicKey()
  const channel = await readUserChannel(pk(service), sponsor)
  if (channel.withdrawRequestedAtSlot !== 0n) {
    const why = 'the sponsor’s withdrawal is pending: its pool pays no new job'
    log(`sponsored service: ${why}`)
    return { offered: false, why }
  }
  const need = price * SPONSORED_POOL_JOBS
  const target = need + price * SPONSOR_SPARE_JOBS
  const balance = channel.deposited - channel.paidSoFar
  let deposited = 0n
  if (balance < target) {
    deposited = target - balance
    log(`the sponsor deposits ${deposited} credits into its pool (its channel)…`)
    await (await deposit(payer, pk(service), sponsorKey, sponsor, deposited)).wait()
  }
  const grant = await signGrantWithWallet(
    {
      service,
      price,
      jobsPerUserPerDay: SPONSORED_JOBS_PER_USER_PER_DAY,
      endSlot: input.currentSlot + SPONSORSHIP_SLOTS,
      cap: channel.paidSoFar + need,
      firstNonce: BigInt(Date.now()),
    },
    devKeyWallet(sponsorKey.toBase58()),
  )
  await offerGrant(input.workerUrl, service, grant)
  log(
    `the sponsor offered the Worker a grant: ${SPONSORED_POOL_JOBS} jobs, ${SPONSORED_JOBS_PER_USER_PER_DAY} per user per day, ${grant.vouchers.length} pool vouchers`,
  )
  return { offered: true, grant, deposited }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Offers the grant, retrying while the Worker has not read the deposit yet (it reads the ledger
 * from the archive a few actions per request, and refuses a pool it sees empty).
 */
async function offerGrant(workerUrl: string, service: string, grant: SponsorshipGrant) {
  const worker = new WorkerClient(workerUrl)
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      return await worker.sponsor(service, grant)
    } catch (e) {
      if (Date.now() > deadline) throw e
      await sleep(1000)
    }
  }
}

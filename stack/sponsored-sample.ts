import { PrivateKey, type PublicKey } from 'o1js'
import { deposit, type FeePayer } from '../contracts/index.ts'
import { signSponsorshipGrant } from '../protocol/index.ts'

// The local stack's sponsored offer: a sponsor's pool on the sample service, so the page shows a
// pool and offers "Pay with" it at once. The pool is a fresh key's channel each boot (it signs
// offline and never holds an account); the stack's user funds it, as anyone may deposit for any
// channel. Never fatal: a stack without the pool still runs every paid job.

/** Funds a pool of `jobs` jobs for `service` and offers its grant to the Worker; its sponsor, or null. */
export async function sponsorSample(o: {
  payer: FeePayer
  service: PublicKey
  funder: PrivateKey
  workerUrl: string
  price: bigint
  jobs: bigint
  log: (line: string) => void
}): Promise<string | null> {
  try {
    const sponsor = PrivateKey.random()
    const sponsorAddress = sponsor.toPublicKey().toBase58()
    o.log(`funding a sponsored pool of ${o.jobs} jobs on the sample service…`)
    const pending = await deposit(
      o.payer,
      o.service,
      o.funder,
      sponsor.toPublicKey(),
      o.price * o.jobs,
    )
    await pending.wait()
    const grant = signSponsorshipGrant(
      {
        v: 1,
        service: o.service.toBase58(),
        sponsor: sponsorAddress,
        jobsPerUserPerDay: 3,
        endSlot: '100000000',
        cap: String(o.price * o.jobs),
      },
      { firstNonce: 1n, count: Number(o.jobs) },
      sponsor.toBase58(),
    )
    const res = await fetch(
      new URL(
        `v1/services/${o.service.toBase58()}/sponsorships`,
        `${o.workerUrl.replace(/\/$/, '')}/`,
      ),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(grant),
      },
    )
    if (!res.ok) throw new Error(`the Worker answered ${res.status}: ${await res.text()}`)
    o.log(`sponsored pool ${sponsorAddress} offered (${o.jobs} jobs, 3 per user per day)`)
    return sponsorAddress
  } catch (e) {
    o.log(`no sponsored pool this time: ${(e as Error).message.split('\n')[0]}`)
    return null
  }
}

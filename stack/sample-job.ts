import { Mina, type PrivateKey, PublicKey } from 'o1js'
import { deposit, type FeePayer, readUserChannel } from '../contracts/index.ts'
import {
  type GenuineCode,
  holdsServiceState,
  nextVoucher,
  type RequestBinding,
  type ServiceDescriptor,
} from '../protocol/index.ts'
import { buildSealedRequest } from '../static-site/src/request.ts'
import { buildSealedSponsoredRequest } from '../static-site/src/sponsorship.ts'
import { devKeyWallet } from '../static-site/src/wallet/dev-key.ts'
import { statusQueryFor } from '../static-site/src/wallet/status-query.ts'
import {
  fundingOf,
  TERMINAL_STATUSES,
  WorkerClient,
  type WorkerJob,
} from '../static-site/src/worker-client.ts'
import { verifyFromEndpoints } from '../verify/from-endpoints.ts'
import type { OutputsSummary, VerificationLink } from '../verify/index.ts'
import { decodeServiceState, GraphqlChainReader, readSettlement } from '../verify/index.ts'

/** Where the user side of a job talks to: the same three things the page needs. */
export interface UserEndpoints {
  workerUrl: string
  minaGraphqlUrl: string
  archiveUrl: string
  gateways: string[]
  /** What a genuine service is compared with (the deployment's compiled contracts). */
  genuine: { creditTokenId: string; code: GenuineCode }
  /** The registry, where a private service's reveal is listed. */
  registryAddress?: string
}

/** The outcome of one sample job, as the user sees it. */
export interface SampleJobOutcome {
  jobId: string
  status: string
  bundleCid: string | null
  links: VerificationLink[]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Tops up the user's deposit with the service so that `jobs` more jobs are paid for. */
export async function ensureDeposit(
  payer: FeePayer,
  service: PublicKey,
  userKey: PrivateKey,
  owed: bigint,
  price: bigint,
  jobs: bigint,
  log: (line: string) => void,
): Promise<void> {
  // Deposits live in the service's ledger: what is left is deposited − paid, and what the user
  // owes beyond what was paid must stay covered.
  const ch = await readUserChannel(service, userKey.toPublicKey())
  const have = ch.deposited - ch.paidSoFar
  const paid = ch.paidSoFar < owed ? ch.paidSoFar : owed
  const need = owed - paid + price * jobs
  if (have >= need) return
  const amount = need - have + price * 9n
  log(
    `depositing ${amount} credits into the service${Mina.getProofsEnabled() ? ' (proving; about a minute)' : ''}…`,
  )
  const pending = await deposit(payer, service, userKey, userKey.toPublicKey(), amount)
  await pending.wait()
}

/**
 * Requests one job as the page does: the voucher amount is what the user's own latest voucher
 * (returned by the Worker, checked here with the user's key) proves owed, plus one price; never
 * the Worker's bare figure. `log` hears why, when the Worker's voucher proves nothing.
 */
export async function requestJob(
  endpoints: UserEndpoints,
  service: string,
  descriptor: ServiceDescriptor,
  userKey: string,
  values: Record<string, string | number | boolean>,
  log: (line: string) => void = () => {},
): Promise<{ jobId: string; user: string; cumulativeAmount: string; request: RequestBinding }> {
  const worker = new WorkerClient(endpoints.workerUrl)
  const wallet = devKeyWallet(userKey)
  const chain = new GraphqlChainReader(endpoints.minaGraphqlUrl, endpoints.archiveUrl)
  // The price settlement charges is the contract's, not the descriptor's (as on the page).
  const fields = await chain.zkappState(service)
  if (!holdsServiceState(fields)) throw new Error(`no service contract at ${service}`)
  const price = decodeServiceState(fields).terms.pricePerJob
  // The Worker's answer is untrusted JSON (fundingOf never throws on it); the floor is the voucher
  // the runner settled on chain. This requester keeps no record of its own between runs: with no
  // proof from the Worker it signs the settled amount plus one price, which an honest Worker
  // refuses as insufficient rather than anyone overpaying.
  const [funding, settlement] = await Promise.all([
    worker.service(service, await statusQueryFor(wallet)).then(fundingOf),
    readSettlement(chain, service, wallet.publicKey).catch(
      // Unreadable counts as never settled: 0 only lowers what is signed.
      () => {
        log('voucher: the settled amount could not be read from the archive; counting 0')
        return null
      },
    ),
  ])
  const next = nextVoucher({
    user: wallet.publicKey,
    service,
    price,
    reported: funding.voucher,
    reportedOwed: funding.owed,
    settled: settlement?.cumulativeAmount ?? 0n,
    settledNonce: settlement?.nonce,
  })
  if (next.warning) log(`voucher: ${next.warning}`)
  for (const r of funding.released)
    log(`voucher: job ${r.jobId} not charged (${r.reason}): ${r.amount} credits not owed`)
  const { envelope, submission, binding } = await buildSealedRequest(
    { service, descriptor, values, owed: next.provenOwed, price, lastNonce: next.nonce - 1n },
    wallet,
  )
  const submitted = await worker.submit(envelope)
  if (submitted.jobId !== binding.requestId)
    throw new Error(`the Worker answered job ${submitted.jobId} for request ${binding.requestId}`)
  return {
    jobId: binding.requestId,
    user: wallet.publicKey,
    cumulativeAmount: submission.voucher.cumulativeAmount,
    request: binding,
  }
}

/**
 * Requests one job on a sponsor's pool as the page's "Pay with" does: the user signs the request
 * only (no voucher, no deposit); the Worker admits it within the pool and the user's allowance.
 */
export async function requestSponsoredJob(
  endpoints: Pick<UserEndpoints, 'workerUrl'>,
  service: string,
  descriptor: ServiceDescriptor,
  userKey: string,
  sponsor: string,
  values: Record<string, string | number | boolean>,
): Promise<{ jobId: string; user: string; request: RequestBinding }> {
  const wallet = devKeyWallet(userKey)
  const { envelope, binding } = await buildSealedSponsoredRequest(
    { service, descriptor, values, sponsor },
    wallet,
  )
  const submitted = await new WorkerClient(endpoints.workerUrl).submit(envelope)
  if (submitted.jobId !== binding.requestId)
    throw new Error(`the Worker answered job ${submitted.jobId} for request ${binding.requestId}`)
  return { jobId: binding.requestId, user: wallet.publicKey, request: binding }
}

/**
 * Polls the Worker until the job is finished and its result reported, or it ended without running
 * (its trigger failed, or the provider refused it for quota), or `timeoutMs` passes.
 */
export async function watchJob(
  workerUrl: string,
  jobId: string,
  onStatus: (status: string, detail?: string) => void,
  timeoutMs = 15 * 60_000,
): Promise<WorkerJob> {
  const worker = new WorkerClient(workerUrl)
  const deadline = Date.now() + timeoutMs
  let seen = 0
  for (;;) {
    const job = await worker.job(jobId)
    for (const h of job.history.slice(seen)) onStatus(h.status, h.detail)
    seen = job.history.length
    const neverRan =
      job.status === 'trigger_failed' ||
      (job.charge?.state === 'not-charged' && job.charge.reason === 'provider-quota')
    if (TERMINAL_STATUSES.has(job.status) && (job.result || neverRan)) return job
    if (Date.now() > deadline)
      throw new Error(`job ${jobId} did not finish in ${timeoutMs / 1000} s (status ${job.status})`)
    await sleep(500)
  }
}

/**
 * Verifies a job's result exactly as the page does, from the gateways and the chain alone;
 * `onOutputs` is told the job's typed outputs (null when it has none), as the page shows them.
 */
export async function verifyJob(
  endpoints: UserEndpoints,
  target: { bundleCid: string; service: string; request: RequestBinding; payer?: string },
  onLink: (l: VerificationLink) => void,
  onOutputs: (o: OutputsSummary | null) => void = () => {},
): Promise<VerificationLink[]> {
  const outcome = await verifyFromEndpoints(endpoints, target, onLink)
  onOutputs(outcome.outputs)
  return outcome.links
}

/** A base58 public key as o1js's type. */
export const pk = (base58: string) => PublicKey.fromBase58(base58)

import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import {
  callPathBelow,
  checkCallPath,
  type Envelope,
  holdsServiceState,
  manifestDigest,
  newRequestId,
  nextVoucher,
  type ParameterValues,
  parseServiceDescriptor,
  type RequestBinding,
  type ServiceDescriptor,
  toHex,
} from '../../protocol/index.ts'
import { buildSealedRequest, workerKeyHashOf } from '../../static-site/src/request.ts'
import { statusQueryFor } from '../../static-site/src/wallet/status-query.ts'
import type { Wallet } from '../../static-site/src/wallet/wallet.ts'
import {
  fundingOf,
  TERMINAL_STATUSES,
  type WorkerJob,
} from '../../static-site/src/worker-client.ts'
import {
  type ChainReader,
  contentVerified,
  decodeServiceState,
  firstBroken,
  settlementFor,
  type VerifyOutcome,
  type VerifyTarget,
} from '../../verify/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import type { CallBudget, CallLedger } from './call-budget.ts'

// `zkrunner-agent call`: the outer runner acts as an ordinary user of a driver service. It signs
// the next voucher by protocol's proven-owed rule (the page's and the stack's rule, one module),
// within the operator's budget, seals the request to the Worker the driver's on-chain descriptor
// names, and, when asked to wait, verifies every link of the driver's result with the shared
// verifier before the outer job may read any of it.

/** The outer job the call is made from (its own identity, from its `ZKRUNNER_*` variables). */
export interface OuterJob {
  jobId: string
  service: string
  /** The versions above the outer job itself (absent: a user's own request). */
  callPath?: readonly string[]
}

/** What the call reads and writes through; narrow, so tests answer with real doubles. */
export interface CallDeps {
  worker: {
    service(address: string, query: Awaited<ReturnType<typeof statusQueryFor>>): Promise<unknown>
    submit(envelope: Envelope): Promise<{ jobId: string }>
    job(jobId: string): Promise<WorkerJob>
  }
  chain: Pick<ChainReader, 'zkappState' | 'events' | 'ledgerBook'>
  /** The driver's descriptor bytes by CID, with every block checked against it. */
  readDescriptor(cid: string): Promise<Uint8Array>
  /** The caller's key as the driver's user (the runner's calling key). */
  wallet: Wallet
  budget: CallBudget
  ledger: CallLedger
  /** Poseidon over Fields (o1js's `Poseidon.hash`): the contract's hash of the Worker key. */
  poseidon(fields: bigint[]): Promise<bigint>
  /** The shared verifier, assembled by the caller (from-endpoints in the CLI). */
  verify(target: VerifyTarget): Promise<VerifyOutcome>
  /** Resolves when the Worker's job record may have changed (the CLI polls; tests step). */
  nextPoll(): Promise<void>
  /**
   * Aborted when the calling job has ended: before anything is signed the call is refused; once
   * submitted (and paid, once) its result is no longer awaited.
   */
  signal?: AbortSignal
  log?(line: string): void
}

/** One call: the driver, its parameters, whether to wait, and where to write what it returned. */
export interface CallRequest {
  driver: string
  /** `--param NAME=VALUE` as written: typed by the driver's own declarations (typedValues). */
  values: Record<string, string>
  outer: OuterJob
  wait: boolean
  /** Directory the verified files and outputs go to (created); unused without `wait`. */
  outDir: string
}

/** What the outer job learns: the inner job and, once waited for and verified, its result. */
export interface CallResult {
  jobId: string
  request: RequestBinding
  cumulativeAmount: string
  /** Set when waited for: the inner bundle, its manifest digest, and where its files were put. */
  result?: { bundleCid: string; manifestDigest: string; exitCode: number | null; outDir: string }
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** Makes one driver call; throws AgentError with a CALL_* code naming why it may not be used. */
export async function callDriver(req: CallRequest, deps: CallDeps): Promise<CallResult> {
  const log = deps.log ?? (() => {})
  const callPath = callPathBelow(req.outer.callPath, req.outer.service)
  // The Worker refuses these too; refusing here first signs nothing at all.
  const bounded = checkCallPath(req.driver, callPath)
  if (!bounded.ok)
    throw new AgentError(AgentErrorCode.CALL_REFUSED, `${bounded.code}: ${bounded.message}`)

  const fields = await deps.chain.zkappState(req.driver)
  if (!holdsServiceState(fields))
    throw new AgentError(AgentErrorCode.CALL_REFUSED, `no service contract at ${req.driver}`)
  const state = decodeServiceState(fields)
  if (state.descriptorCid === null)
    throw new AgentError(AgentErrorCode.CALL_REFUSED, `${req.driver} holds no descriptor CID`)
  const descriptor = descriptorOf(await deps.readDescriptor(state.descriptorCid), req.driver)
  // Sealed only to the Worker key the contract froze, not merely the one the descriptor names
  // (the page's rule before it seals).
  if ((await workerKeyHashOf(descriptor.workerPublicKey, deps.poseidon)) !== state.workerKeyHash)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `${req.driver}: the descriptor's Worker key is not the one the service contract froze: nothing was signed`,
    )
  // The price settlement charges is the contract's, never the descriptor's.
  const price = state.terms.pricePerJob

  const [funding, settlement] = await Promise.all([
    deps.worker.service(req.driver, await statusQueryFor(deps.wallet)).then(fundingOf),
    // Unreadable counts as never settled: 0 only lowers what is signed.
    settlementFor(deps.chain, fields, deps.wallet.publicKey).catch(() => null),
  ])
  const next = nextVoucher({
    user: deps.wallet.publicKey,
    service: req.driver,
    price,
    reported: funding.voucher,
    reportedOwed: funding.owed,
    settled: settlement?.cumulativeAmount ?? 0n,
    settledNonce: settlement?.nonce,
  })
  if (next.warning) log(`voucher: ${next.warning}`)

  if (deps.signal?.aborted)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `the calling job has ended: no call to ${req.driver} was signed`,
    )
  // The request id is drawn when sealing, after the reservation: the entry gets its own id.
  const entryId = newRequestId()
  const sealed = await deps.ledger.reserve(
    req.outer.jobId,
    { requestId: entryId, price, cumulativeAmount: next.cumulativeAmount },
    deps.budget,
    () =>
      buildSealedRequest(
        {
          service: req.driver,
          descriptor,
          values: typedValues(descriptor, req.values),
          owed: next.provenOwed,
          price,
          lastNonce: next.nonce - 1n,
          callPath,
        },
        deps.wallet,
      ),
  )
  const submitted = await deps.worker.submit(sealed.envelope).catch((e: unknown) => {
    const code = (e as { remoteCode?: string }).remoteCode
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `the Worker refused the call${code ? ` (${code})` : ''}: ${e instanceof Error ? e.message : e}`,
    )
  })
  const jobId = sealed.binding.requestId
  if (submitted.jobId !== jobId)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `the Worker answered job ${submitted.jobId} for request ${jobId}`,
    )
  const called: CallResult = {
    jobId,
    request: sealed.binding,
    cumulativeAmount: sealed.submission.voucher.cumulativeAmount,
  }
  if (!req.wait) return called

  const job = await finished(jobId, deps)
  if (deps.signal?.aborted)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `the calling job has ended: driver job ${jobId} (submitted and paid once) is not awaited`,
    )
  const bundleCid = job.result?.bundleCid
  if (!bundleCid)
    throw new AgentError(
      AgentErrorCode.CALL_FAILED,
      `driver job ${jobId} ended ${job.status} with no result${lastDetail(job)}`,
    )
  const outcome = await deps.verify({ bundleCid, service: req.driver, request: sealed.binding })
  const broken = firstBroken(outcome.links)
  if (broken !== null || !contentVerified(outcome.links) || outcome.manifest === null) {
    const l = broken ?? outcome.links.find((x) => x.status !== 'ok')
    throw new AgentError(
      AgentErrorCode.CALL_UNVERIFIED,
      `driver job ${jobId} (bundle ${bundleCid}): link "${l?.id}" ${l?.status}: ${l?.detail}`,
    )
  }
  const manifest = outcome.manifest
  if (manifest.exitCode !== 0)
    throw new AgentError(
      AgentErrorCode.CALL_FAILED,
      `driver job ${jobId} failed: exit code ${manifest.exitCode ?? manifest.signal} (bundle ${bundleCid})`,
    )
  await writeVerified(req.outDir, outcome)
  const digest = toHex(manifestDigest(manifest))
  // Listed in the outer job's signed manifest: only a result verified here, never the job's word.
  await deps.ledger.recordInner(req.outer.jobId, entryId, {
    service: req.driver,
    jobId,
    bundleCid,
    manifestDigest: digest,
  })
  return {
    ...called,
    result: {
      bundleCid,
      manifestDigest: digest,
      exitCode: manifest.exitCode,
      outDir: req.outDir,
    },
  }
}

/**
 * Command-line values typed as the driver declares its parameters: an integer parameter's text
 * becomes a number, a boolean's `true`/`false` a boolean; anything else stays text, and the
 * protocol's validateParameters (in buildSealedRequest) judges every value as the page's would be.
 */
export function typedValues(
  descriptor: Pick<ServiceDescriptor, 'parameters'>,
  raw: Record<string, string>,
): ParameterValues {
  const out: ParameterValues = {}
  for (const [name, text] of Object.entries(raw)) {
    const spec = descriptor.parameters.find((p) => p.name === name)
    if (spec?.type === 'integer' && /^-?\d{1,16}$/.test(text)) out[name] = Number(text)
    else if (spec?.type === 'boolean' && (text === 'true' || text === 'false'))
      out[name] = text === 'true'
    else out[name] = text
  }
  return out
}

function descriptorOf(bytes: Uint8Array, driver: string): ServiceDescriptor {
  let parsed: ReturnType<typeof parseServiceDescriptor>
  try {
    parsed = parseServiceDescriptor(JSON.parse(decoder.decode(bytes)))
  } catch (e) {
    throw new AgentError(AgentErrorCode.CALL_REFUSED, `${driver}: descriptor is not JSON`, {
      cause: e,
    })
  }
  if (!parsed.ok)
    throw new AgentError(AgentErrorCode.CALL_REFUSED, `${driver}: ${parsed.error.message}`)
  return parsed.value
}

async function finished(jobId: string, deps: CallDeps): Promise<WorkerJob> {
  for (;;) {
    if (deps.signal?.aborted)
      throw new AgentError(
        AgentErrorCode.CALL_REFUSED,
        `the calling job has ended: driver job ${jobId} (submitted and paid once) is not awaited`,
      )
    const job = await deps.worker.job(jobId)
    if (TERMINAL_STATUSES.has(job.status) && (job.result || job.status === 'trigger_failed'))
      return job
    await deps.nextPoll()
  }
}

const lastDetail = (job: WorkerJob): string => {
  const d = job.history.at(-1)?.detail
  return d ? `: ${d}` : ''
}

/**
 * Writes only what the verifier checked: each manifest file (re-hashed) under `files/`, and the
 * typed outputs as `outputs.json`. A path that would leave the directory is never written (the
 * manifest schema already refuses `..`; this is the second lock).
 */
async function writeVerified(outDir: string, outcome: VerifyOutcome): Promise<void> {
  const root = join(outDir, 'files')
  await mkdir(root, { recursive: true })
  for (const [path, bytes] of outcome.files) {
    const target = join(root, path)
    if (!target.startsWith(`${root}/`)) continue
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, bytes)
  }
  const values = outcome.manifest?.outputs ?? null
  await writeFile(join(outDir, 'outputs.json'), `${JSON.stringify(values ?? {}, null, 2)}\n`)
}

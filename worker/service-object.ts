import { DurableObject } from 'cloudflare:workers'
import {
  canonicalJson,
  chargeOfJob,
  type Envelope,
  type JobSubmission,
  type NotChargedReason,
  openJson,
  parseVoucher,
  providerLink,
  providerUrlProblem,
  type ResultReport,
  SealedGitlabCredentialsSchema,
  type ServiceRegistration,
  sealJson,
  TRIGGER_TOKEN_INFO,
  type Voucher,
  validateParameters,
  verifyResultReport,
} from '../protocol/index.ts'
import { chainReaderFor } from './chain.ts'
import { type Config, configOf } from './config.ts'
import type { Env } from './env.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import { backoffMs, GitlabClient, type TriggerOutcome } from './gitlab-client.ts'
import { secretsEqual } from './secrets-equal.ts'
import {
  type Availability,
  availabilityOf,
  checkDescriptorAgainstChain,
  readServiceChainState,
  requireGenuine,
} from './service-status.ts'

/** CI variable carrying the job id: what reconciliation and webhooks key on. */
export const JOB_ID_VARIABLE = 'ZKRUNNER_JOB_ID'
/** CI variable carrying the service address: routes pipeline webhooks to their Durable Object. */
export const SERVICE_VARIABLE = 'ZKRUNNER_SERVICE'

/** How long one POST /v1/jobs may spend retrying GitLab before the alarm takes over. */
const INLINE_RETRY_BUDGET_MS = 5_000
/** Attempts of one trigger in total (inline and by alarm) before the job is marked trigger_failed. */
const MAX_TOTAL_ATTEMPTS = 12
/** Request ids are kept this long past their expiry, so clock skew cannot reopen them. */
const REQUEST_ID_MARGIN_MS = 60 * 60 * 1000
/** Webhook de-duplication keys are kept this long. */
const HOOK_KEY_TTL_MS = 24 * 60 * 60 * 1000
/** A job whose trigger threw unexpectedly is tried again this much later (not in a hot loop). */
const FAILED_TRIGGER_RETRY_MS = 30_000

type GitlabCredentials = { triggerToken: string; apiToken?: string; webhookSecret?: string }

/** A job's status: GitLab's pipeline statuses plus the Worker's own before and around the trigger. */
export type JobStatus =
  | 'queued'
  | 'triggered'
  | 'trigger_failed'
  | 'trigger_unknown'
  | 'created'
  | 'waiting_for_resource'
  | 'preparing'
  | 'pending'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped'
  | 'manual'
  | 'scheduled'

const TERMINAL = new Set(['success', 'failed', 'canceled', 'skipped', 'trigger_failed'])

/** One entry of a job's status history. */
export interface JobEvent {
  status: string
  at: string
  source: 'worker' | 'gitlab' | 'runner'
  detail?: string
}

/** A job as GET /v1/jobs/:id answers it. */
export interface JobView {
  jobId: string
  service: string
  user: string
  status: string
  createdAt: string
  updatedAt: string
  pipeline: { id: number; projectId: number | null; webUrl: string | null } | null
  history: JobEvent[]
  result: Omit<ResultReport, 'v' | 'jobId'> | null
  /** What the user signed for this job: the voucher it was admitted with (cumulative amount, nonce). */
  voucher: { cumulativeAmount: string; nonce: string } | null
  /** Whether the user pays for the job (protocol's payable rule); `pending` until it is decided. */
  charge: JobCharge
}

/** A job's charge as GET /v1/jobs/:id answers it. */
export type JobCharge =
  | { state: 'pending' | 'charged'; amount: string }
  | { state: 'not-charged'; amount: '0'; reason: NotChargedReason }

/** The outcome of an RPC that may be refused: errors cross the RPC boundary as data, not exceptions. */
export type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; code: string; message: string }

/** The voucher a job was admitted with, from its stored variables (null for rows without one). */
function voucherOf(variables: string): Voucher | null {
  // A stored row that does not parse shows no voucher: one bad row must not fail a job's view.
  let raw: string | undefined
  let voucher: unknown
  try {
    raw = (JSON.parse(variables) as Record<string, string>).ZKRUNNER_VOUCHER
    if (raw === undefined) return null
    voucher = JSON.parse(raw)
  } catch {
    return null
  }
  const parsed = parseVoucher(voucher)
  return parsed.ok ? parsed.value : null
}

const refuse = (error: ApiError): Outcome<never> => ({
  ok: false,
  status: error.status,
  code: error.code,
  message: error.message,
})

async function guarded<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() }
  } catch (error) {
    if (error instanceof ApiError) return refuse(error)
    throw error
  }
}

interface StoredRegistration extends Omit<ServiceRegistration, 'triggerToken'> {
  /** Sealed to the Worker's current key (re-sealed on rotation). */
  triggerToken: Envelope
}

type Row = Record<string, SqlStorageValue>

/**
 * One Durable Object per service address: the single writer of its registration, seen request ids,
 * each user's voucher channel, job records and trigger attempts. Admission runs without an await
 * between check and write, so concurrent duplicates cannot both pass.
 */
export class ServiceObject extends DurableObject<Env> {
  readonly #sql: SqlStorage
  /** Jobs whose trigger loop runs in this instance now: at most one loop per job. */
  readonly #triggering = new Set<string>()
  /** Request ids being admitted now: a concurrent duplicate is refused before it reads the chain. */
  readonly #admitting = new Set<string>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.#sql = ctx.storage.sql
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS registration (
        id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, registered_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS requests (request_id TEXT PRIMARY KEY, forget_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS requests_forget ON requests (forget_at);
      CREATE TABLE IF NOT EXISTS channels (
        user TEXT PRIMARY KEY, cumulative TEXT NOT NULL, nonce TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY, user TEXT NOT NULL, status TEXT NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, variables TEXT NOT NULL,
        pipeline_id INTEGER, project_id INTEGER, pipeline_url TEXT, result TEXT,
        next_attempt_at INTEGER);
      CREATE INDEX IF NOT EXISTS jobs_next_attempt ON jobs (next_attempt_at);
      CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user);
      CREATE TABLE IF NOT EXISTS job_events (
        job_id TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
        status TEXT NOT NULL, source TEXT NOT NULL, detail TEXT);
      CREATE TABLE IF NOT EXISTS trigger_attempts (
        job_id TEXT NOT NULL, attempt INTEGER NOT NULL, started_at INTEGER NOT NULL, outcome TEXT,
        PRIMARY KEY (job_id, attempt));
      CREATE TABLE IF NOT EXISTS hook_keys (key TEXT PRIMARY KEY, forget_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS charges (
        job_id TEXT PRIMARY KEY, amount TEXT NOT NULL, released_reason TEXT);
    `)
  }

  #config(): Config {
    return configOf(this.env)
  }

  #registration(): StoredRegistration | null {
    const row = this.#sql
      .exec<{ body: string }>('SELECT body FROM registration WHERE id = 1')
      .toArray()[0]
    return row ? (JSON.parse(row.body) as StoredRegistration) : null
  }

  #requireRegistration(): StoredRegistration {
    const registration = this.#registration()
    if (!registration) {
      throw new ApiError(
        404,
        ApiErrorCode.UNKNOWN_SERVICE,
        'no service is registered at this address',
      )
    }
    return registration
  }

  async #openCredentials(registration: StoredRegistration): Promise<GitlabCredentials> {
    const config = this.#config()
    const opened = await openJson(config.keys, registration.triggerToken, TRIGGER_TOKEN_INFO)
    const parsed = opened.ok ? SealedGitlabCredentialsSchema.safeParse(opened.value) : undefined
    if (!opened.ok || !parsed?.success) {
      // Sealed to a key that has since rotated out: the operator must register again.
      throw new ApiError(409, ApiErrorCode.SERVICE_DISABLED, 'the trigger token no longer opens')
    }
    if (registration.triggerToken.kid !== config.currentKey.kid) {
      // Keep the stored token readable after the previous key's grace period ends.
      const resealed = await sealJson(config.currentKey.publicKey, TRIGGER_TOKEN_INFO, opened.value)
      const next: StoredRegistration = { ...registration, triggerToken: resealed }
      this.#sql.exec('UPDATE registration SET body = ? WHERE id = 1', JSON.stringify(next))
    }
    const c = parsed.data
    return typeof c === 'string' ? { triggerToken: c } : c
  }

  /** Registers (or re-registers) this service version after checking it against the chain. */
  async register(registration: ServiceRegistration): Promise<Outcome<{ registeredAt: string }>> {
    return guarded(async () => {
      const config = this.#config()
      const chainState = await readServiceChainState(
        chainReaderFor(config),
        registration.service,
        config.genuine,
      )
      if (!chainState) {
        throw new ApiError(404, ApiErrorCode.UNKNOWN_SERVICE, 'no service contract at this address')
      }
      requireGenuine(chainState)
      checkDescriptorAgainstChain(chainState, registration.descriptor, registration.descriptorCid)
      const urlProblem = providerUrlProblem(registration.descriptor.providerUrl, {
        allowLoopbackHttp: config.allowLoopbackProvider,
      })
      if (urlProblem !== null) {
        throw new ApiError(422, ApiErrorCode.INVALID_BODY, `providerUrl ${urlProblem}`, [
          'descriptor',
          'providerUrl',
        ])
      }
      const opened = await openJson(config.keys, registration.triggerToken, TRIGGER_TOKEN_INFO)
      if (!opened.ok) {
        const code =
          opened.error.code === 'UNKNOWN_KEY_ID'
            ? ApiErrorCode.UNKNOWN_KEY_ID
            : ApiErrorCode.DECRYPT_FAILED
        throw new ApiError(400, code, `triggerToken: ${opened.error.message}`, ['triggerToken'])
      }
      if (!SealedGitlabCredentialsSchema.safeParse(opened.value).success) {
        throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'triggerToken: not a token', [
          'triggerToken',
        ])
      }
      const stored: StoredRegistration = {
        ...registration,
        triggerToken:
          registration.triggerToken.kid === config.currentKey.kid
            ? registration.triggerToken
            : await sealJson(config.currentKey.publicKey, TRIGGER_TOKEN_INFO, opened.value),
      }
      const now = Date.now()
      this.#sql.exec(
        'INSERT OR REPLACE INTO registration (id, body, registered_at) VALUES (1, ?, ?)',
        JSON.stringify(stored),
        now,
      )
      return { registeredAt: new Date(now).toISOString() }
    })
  }

  /** The public part of the registration and the service's availability (for `user`, when given). */
  async status(
    address: string,
    user?: string,
  ): Promise<
    Outcome<{
      registered: boolean
      descriptor: ServiceRegistration['descriptor'] | null
      descriptorCid: string | null
      availability: Availability | null
    }>
  > {
    return guarded(async () => {
      const config = this.#config()
      const registration = this.#registration()
      const chainState = await readServiceChainState(
        chainReaderFor(config),
        address,
        config.genuine,
      )
      let availability: Availability | null = null
      if (chainState) {
        const funding =
          user && registration
            ? {
                deposit: await chainReaderFor(config).balance(user, registration.receiptTokenId),
                owed: this.#channel(user).cumulative,
                voucher: this.#latestVoucher(user),
              }
            : undefined
        availability = availabilityOf(chainState, config.heartbeatMaxAgeSlots, funding)
      }
      return {
        registered: registration !== null,
        descriptor: registration?.descriptor ?? null,
        descriptorCid: registration?.descriptorCid ?? null,
        availability,
      }
    })
  }

  #channel(user: string): { cumulative: bigint; nonce: bigint } {
    const row = this.#sql
      .exec<{ cumulative: string; nonce: string }>(
        'SELECT cumulative, nonce FROM channels WHERE user = ?',
        user,
      )
      .toArray()[0]
    return row
      ? { cumulative: BigInt(row.cumulative), nonce: BigInt(row.nonce) }
      : { cumulative: 0n, nonce: -1n }
  }

  /**
   * The latest voucher `user` signed to this service: the one their newest job was admitted with
   * (the channel row and the job row are written together). It is the user's own proof of what
   * they owe, so the page signs against it instead of a bare figure from us.
   */
  #latestVoucher(user: string): Voucher | null {
    const row = this.#sql
      .exec<{ variables: string }>(
        'SELECT variables FROM jobs WHERE user = ? ORDER BY rowid DESC LIMIT 1',
        user,
      )
      .toArray()[0]
    return row ? voucherOf(row.variables) : null
  }

  #seen(requestId: string): boolean {
    return (
      this.#sql.exec('SELECT 1 FROM requests WHERE request_id = ?', requestId).toArray().length >
        0 || this.#sql.exec('SELECT 1 FROM jobs WHERE job_id = ?', requestId).toArray().length > 0
    )
  }

  /**
   * Admits a decrypted, signature-checked job submission once, then triggers its pipeline.
   * Replays, stale or insufficient vouchers and vouchers above the deposit are refused.
   */
  async submit(
    submission: JobSubmission,
  ): Promise<Outcome<{ jobId: string; status: JobStatus; pipelineId: number | null }>> {
    return guarded(async () => {
      const { request } = submission
      // Cheap early refusal; the authoritative check is repeated at admission below.
      if (this.#admitting.has(request.requestId) || this.#seen(request.requestId)) {
        throw new ApiError(409, ApiErrorCode.REPLAYED, 'this request id was already used')
      }
      this.#admitting.add(request.requestId)
      try {
        return await this.#admit(submission)
      } finally {
        this.#admitting.delete(request.requestId)
      }
    })
  }

  async #admit(
    submission: JobSubmission,
  ): Promise<{ jobId: string; status: JobStatus; pipelineId: number | null }> {
    const { request, voucher } = submission
    const replayed = () =>
      new ApiError(409, ApiErrorCode.REPLAYED, 'this request id was already used')
    const registration = this.#requireRegistration()
    const { descriptor } = registration
    // Reserved names (CI_*, ZKRUNNER_*, …) and control characters are refused by the protocol.
    const parameters = validateParameters(descriptor.parameters, request.parameters)
    if (!parameters.ok) {
      throw new ApiError(
        422,
        ApiErrorCode.INVALID_PARAMETERS,
        parameters.error.message,
        parameters.error.path,
      )
    }
    const config = this.#config()
    const chain = chainReaderFor(config)
    const [chainState, deposit] = await Promise.all([
      readServiceChainState(chain, request.service, config.genuine),
      chain.balance(request.user, registration.receiptTokenId),
    ])
    if (!chainState) {
      throw new ApiError(404, ApiErrorCode.UNKNOWN_SERVICE, 'no service contract at this address')
    }
    requireGenuine(chainState)
    const price = chainState.terms.pricePerJob
    const cumulative = BigInt(voucher.cumulativeAmount)
    const nonce = BigInt(voucher.nonce)

    // Admission: from here to the INSERTs there is no await, so it is atomic in this object.
    const now = Date.now()
    this.ctx.storage.transactionSync(() => {
      if (this.#seen(request.requestId)) throw replayed()
      const channel = this.#channel(request.user)
      const availability = availabilityOf(chainState, config.heartbeatMaxAgeSlots, {
        deposit,
        owed: channel.cumulative,
      })
      if (!availability.enabled) {
        throw new ApiError(
          409,
          ApiErrorCode.SERVICE_DISABLED,
          `the service is disabled: ${availability.reason}`,
        )
      }
      if (nonce <= channel.nonce) {
        throw new ApiError(
          409,
          ApiErrorCode.VOUCHER_STALE,
          `voucher nonce must exceed ${channel.nonce}`,
        )
      }
      if (cumulative < channel.cumulative + price) {
        throw new ApiError(
          402,
          ApiErrorCode.VOUCHER_INSUFFICIENT,
          `voucher must owe at least ${channel.cumulative + price} (previous ${channel.cumulative} + price ${price})`,
        )
      }
      if (cumulative > deposit) {
        throw new ApiError(
          402,
          ApiErrorCode.VOUCHER_ABOVE_DEPOSIT,
          `voucher owes ${cumulative}, above the deposit of ${deposit}`,
        )
      }
      const variables: Record<string, string> = {
        ...parameters.value,
        [JOB_ID_VARIABLE]: request.requestId,
        [SERVICE_VARIABLE]: request.service,
        ZKRUNNER_USER: request.user,
        ZKRUNNER_JOB_NAME: descriptor.job,
        ZKRUNNER_SOURCE_COMMITMENT: descriptor.sourceCommitment,
        // The parameters as one value too: the runner hashes them into the manifest's
        // requestDigest, so the page can tell its own request's result from any other.
        ZKRUNNER_PARAMETERS: canonicalJson(parameters.value),
        // The runner settles with the user's latest voucher; it is a signed promise, not a secret.
        ZKRUNNER_VOUCHER: canonicalJson(voucher),
      }
      this.#sql.exec(
        'INSERT INTO requests (request_id, forget_at) VALUES (?, ?)',
        request.requestId,
        request.expiresAt * 1000 + REQUEST_ID_MARGIN_MS,
      )
      this.#sql.exec(
        'INSERT OR REPLACE INTO channels (user, cumulative, nonce) VALUES (?, ?, ?)',
        request.user,
        String(cumulative),
        String(nonce),
      )
      this.#sql.exec(
        `INSERT INTO jobs (job_id, user, status, created_at, updated_at, variables, next_attempt_at)
           VALUES (?, ?, 'queued', ?, ?, ?, ?)`,
        request.requestId,
        request.user,
        now,
        now,
        JSON.stringify(variables),
        now,
      )
      // What this job adds to the user's channel: released again if the job ends not payable.
      this.#sql.exec(
        'INSERT INTO charges (job_id, amount, released_reason) VALUES (?, ?, NULL)',
        request.requestId,
        String(price),
      )
      this.#event(request.requestId, 'queued', 'worker', now)
    })
    // From here the job is admitted and its voucher counted: whatever fails now, the answer is
    // 202 with the job id (never a 4xx/5xx that would make the user pay again for a new request).
    // The alarm retries the trigger; the pointer is written again below if it failed.
    try {
      await this.#scheduleAlarm()
    } catch (error) {
      logUnexpected('scheduling the alarm', error)
    }
    // The pointer that lets GET /v1/jobs/:id find this object is written while GitLab is called.
    const pointer = () =>
      this.env.JOBS.get(this.env.JOBS.idFromName(`job:${request.requestId}`)).set(request.service)
    const [pointed] = await Promise.allSettled([
      pointer(),
      this.#runTriggerSafely(request.requestId, Date.now() + INLINE_RETRY_BUDGET_MS),
    ])
    if (pointed.status === 'rejected') {
      logUnexpected('pointing the job', pointed.reason)
      this.ctx.waitUntil(pointer().catch((error) => logUnexpected('pointing the job', error)))
    }
    const job = this.#jobRow(request.requestId)!
    return {
      jobId: request.requestId,
      status: job.status as JobStatus,
      pipelineId: (job.pipeline_id as number | null) ?? null,
    }
  }

  #event(jobId: string, status: string, source: JobEvent['source'], at: number, detail?: string) {
    this.#sql.exec(
      'INSERT INTO job_events (job_id, at, status, source, detail) VALUES (?, ?, ?, ?, ?)',
      jobId,
      at,
      status,
      source,
      detail ?? null,
    )
  }

  #jobRow(jobId: string): Row | undefined {
    return this.#sql.exec('SELECT * FROM jobs WHERE job_id = ?', jobId).toArray()[0]
  }

  #setStatus(jobId: string, status: JobStatus, source: JobEvent['source'], detail?: string) {
    const now = Date.now()
    this.#sql.exec(
      'UPDATE jobs SET status = ?, updated_at = ? WHERE job_id = ?',
      status,
      now,
      jobId,
    )
    this.#event(jobId, status, source, now, detail)
    this.#applyCharge(jobId)
  }

  /**
   * Brings the user's channel in line with the payable rule once a job's charge is decided: a job
   * that ends not payable lowers what the user owes by its price (the next voucher leaves it out,
   * so the runner's vouchers match the jobs it can settle); a payable result reported after a
   * release (a cancel that overtook the runner's report) charges it again. Idempotent.
   */
  #applyCharge(jobId: string): void {
    const job = this.#jobRow(jobId)
    const charge = this.#sql
      .exec<{ amount: string; released_reason: string | null }>(
        'SELECT amount, released_reason FROM charges WHERE job_id = ?',
        jobId,
      )
      .toArray()[0]
    if (!job || !charge) return
    const decided = chargeOfJob({
      status: job.status as string,
      result: job.result === null ? null : JSON.parse(job.result as string),
    })
    if (decided === null) return
    const released = charge.released_reason !== null
    if (decided.payable === !released) return
    const amount = BigInt(charge.amount)
    const user = job.user as string
    const channel = this.#channel(user)
    this.#sql.exec(
      'UPDATE channels SET cumulative = ? WHERE user = ?',
      String(decided.payable ? channel.cumulative + amount : channel.cumulative - amount),
      user,
    )
    this.#sql.exec(
      'UPDATE charges SET released_reason = ? WHERE job_id = ?',
      decided.payable ? null : decided.reason,
      jobId,
    )
    this.#event(
      jobId,
      decided.payable ? 'charged' : 'not_charged',
      'worker',
      Date.now(),
      decided.payable ? `${amount} credits` : decided.reason,
    )
  }

  #recordPipeline(jobId: string, pipeline: { id: number; project_id?: number; web_url?: string }) {
    // The page renders this as an href: only https links on the provider's own origin are kept.
    const providerUrl = this.#registration()?.descriptor.providerUrl
    const link =
      pipeline.web_url && providerUrl ? providerLink(pipeline.web_url, providerUrl) : null
    this.#sql.exec(
      `UPDATE jobs SET pipeline_id = ?, project_id = ?, pipeline_url = ?, next_attempt_at = NULL
       WHERE job_id = ?`,
      pipeline.id,
      pipeline.project_id ?? null,
      link,
      jobId,
    )
  }

  /** Only GitLab's Job Hook needs the pipeline pointer: the answer to the user does not wait for it. */
  #pointPipelineLater(projectId: number | undefined, pipelineId: number, jobId: string): void {
    this.ctx.waitUntil(this.#pointPipeline(projectId, pipelineId, jobId).catch(() => undefined))
  }

  async #pointPipeline(projectId: number | undefined, pipelineId: number, jobId: string) {
    if (projectId === undefined) return
    const name = `pipeline:${projectId}:${pipelineId}`
    await this.env.JOBS.get(this.env.JOBS.idFromName(name)).set(
      JSON.stringify({ service: this.#requireRegistration().service, jobId }),
    )
  }

  /**
   * Triggers a job's pipeline at most once. Every attempt is recorded before its request is sent;
   * after an ambiguous attempt (5xx, timeout) the next step is to look for a pipeline carrying the
   * job id, never to send blindly. Without an API token to look with, the job waits for GitLab's
   * webhook instead (trigger_unknown): a lost job is better than a job run and paid twice.
   */
  async #runTrigger(jobId: string, deadline: number): Promise<void> {
    if (this.#triggering.has(jobId)) return
    this.#triggering.add(jobId)
    try {
      await this.#triggerLoop(jobId, deadline)
    } finally {
      this.#triggering.delete(jobId)
    }
  }

  /**
   * #runTrigger for a job that is already admitted: an error is never thrown to the caller (the
   * user was charged; the alarm's other jobs must still run). A refusal that cannot change
   * (credentials that no longer open) fails the job; anything else is retried later.
   */
  async #runTriggerSafely(jobId: string, deadline: number): Promise<void> {
    try {
      await this.#runTrigger(jobId, deadline)
    } catch (error) {
      if (this.#jobRow(jobId)?.status !== 'queued') return
      if (error instanceof ApiError) {
        this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
        this.#setStatus(jobId, 'trigger_failed', 'worker', error.message)
        return
      }
      logUnexpected(`triggering job ${jobId}`, error)
      this.#sql.exec(
        'UPDATE jobs SET next_attempt_at = ? WHERE job_id = ?',
        Date.now() + FAILED_TRIGGER_RETRY_MS,
        jobId,
      )
    }
  }

  async #triggerLoop(jobId: string, deadline: number): Promise<void> {
    const config = this.#config()
    const registration = this.#requireRegistration()
    const { descriptor } = registration
    const client = new GitlabClient({
      baseUrl: config.gitlabUrl ?? descriptor.providerUrl,
      timeoutMs: config.gitlabTimeoutMs,
    })
    for (;;) {
      const job = this.#jobRow(jobId)
      if (job?.status !== 'queued') return
      const attempts = this.#sql
        .exec<{ attempt: number; started_at: number; outcome: string | null }>(
          'SELECT attempt, started_at, outcome FROM trigger_attempts WHERE job_id = ? ORDER BY attempt',
          jobId,
        )
        .toArray()
      if (attempts.length >= MAX_TOTAL_ATTEMPTS) {
        this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
        this.#setStatus(jobId, 'trigger_failed', 'worker', 'GitLab did not accept the trigger')
        return
      }
      const credentials = await this.#openCredentials(registration)
      // An attempt without an outcome was cut off mid-flight: as ambiguous as a timeout.
      const ambiguous = attempts.some((a) => a.outcome === null || a.outcome === 'ambiguous')
      if (ambiguous) {
        if (!credentials.apiToken) {
          this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
          this.#setStatus(
            jobId,
            'trigger_unknown',
            'worker',
            'the trigger may have gone through; waiting for the GitLab webhook',
          )
          return
        }
        const first = attempts[0]!.started_at
        const found = await this.#reconcile(client, descriptor, credentials.apiToken, jobId, first)
        if (found === 'unreachable') {
          if (!(await this.#waitOrDefer(jobId, attempts.length, undefined, deadline))) return
          continue
        }
        if (found !== null) {
          this.#recordPipeline(jobId, found)
          this.#setStatus(jobId, 'triggered', 'worker', `pipeline ${found.id} (reconciled)`)
          this.#pointPipelineLater(found.project_id, found.id, jobId)
          return
        }
      }
      const attempt = attempts.length + 1
      this.#sql.exec(
        'INSERT INTO trigger_attempts (job_id, attempt, started_at, outcome) VALUES (?, ?, ?, NULL)',
        jobId,
        attempt,
        Date.now(),
      )
      const outcome: TriggerOutcome = await client.triggerPipeline({
        project: descriptor.project,
        token: credentials.triggerToken,
        ref: descriptor.ref,
        variables: JSON.parse(job.variables as string) as Record<string, string>,
      })
      this.#sql.exec(
        'UPDATE trigger_attempts SET outcome = ? WHERE job_id = ? AND attempt = ?',
        outcome.kind,
        jobId,
        attempt,
      )
      if (outcome.kind === 'created') {
        // A webhook may have recorded the pipeline while the answer was on its way.
        this.#recordPipeline(jobId, outcome.pipeline)
        if (this.#jobRow(jobId)?.status === 'queued') {
          this.#setStatus(jobId, 'triggered', 'worker', `pipeline ${outcome.pipeline.id}`)
        }
        this.#pointPipelineLater(outcome.pipeline.project_id, outcome.pipeline.id, jobId)
        return
      }
      if (outcome.kind === 'rejected') {
        this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
        this.#setStatus(jobId, 'trigger_failed', 'worker', `GitLab refused: HTTP ${outcome.status}`)
        return
      }
      const retryAfter = outcome.kind === 'rate-limited' ? outcome.retryAfterMs : undefined
      if (!(await this.#waitOrDefer(jobId, attempt, retryAfter, deadline))) return
    }
  }

  /** Sleeps before the next attempt if the deadline allows; else hands the job to the alarm. */
  async #waitOrDefer(
    jobId: string,
    attempt: number,
    retryAfterMs: number | undefined,
    deadline: number,
  ): Promise<boolean> {
    const delay = backoffMs(attempt, retryAfterMs)
    if (Date.now() + delay < deadline) {
      await new Promise((resolve) => setTimeout(resolve, delay))
      return true
    }
    this.#sql.exec(
      'UPDATE jobs SET next_attempt_at = ? WHERE job_id = ?',
      Date.now() + Math.max(delay, 1000),
      jobId,
    )
    await this.#scheduleAlarm()
    return false
  }

  /** Looks for the pipeline that carries this job id; null when there is none, 'unreachable' when GitLab did not answer. */
  async #reconcile(
    client: GitlabClient,
    descriptor: StoredRegistration['descriptor'],
    apiToken: string,
    jobId: string,
    firstAttemptAt: number,
  ): Promise<{ id: number; project_id: number; web_url?: string } | null | 'unreachable'> {
    const list = await client.listTriggeredPipelines({
      project: descriptor.project,
      apiToken,
      ref: descriptor.ref,
      // Clocks differ: look back a minute before the first attempt.
      updatedAfter: new Date(firstAttemptAt - 60_000),
    })
    if (!list.ok) return 'unreachable'
    for (const pipeline of list.value) {
      const vars = await client.pipelineVariables({
        project: descriptor.project,
        apiToken,
        pipelineId: pipeline.id,
      })
      if (!vars.ok) return 'unreachable'
      if (vars.value.some((v) => v.key === JOB_ID_VARIABLE && v.value === jobId)) return pipeline
    }
    return null
  }

  async #scheduleAlarm(): Promise<void> {
    const next = this.#sql
      .exec<{ at: number | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(next_attempt_at) AS at FROM jobs WHERE next_attempt_at IS NOT NULL
           UNION ALL SELECT MIN(forget_at) FROM requests
           UNION ALL SELECT MIN(forget_at) FROM hook_keys)`,
      )
      .toArray()[0]?.at
    if (next === null || next === undefined) return
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > next) await this.ctx.storage.setAlarm(next)
  }

  /** Retries due triggers and forgets expired request ids and webhook keys. */
  override async alarm(): Promise<void> {
    const now = Date.now()
    this.#sql.exec('DELETE FROM requests WHERE forget_at <= ?', now)
    this.#sql.exec('DELETE FROM hook_keys WHERE forget_at <= ?', now)
    const due = this.#sql
      .exec<{ job_id: string }>(
        "SELECT job_id FROM jobs WHERE status = 'queued' AND next_attempt_at <= ?",
        now,
      )
      .toArray()
    // One job's failure must not stop the others: each is isolated by #runTriggerSafely.
    for (const { job_id } of due) {
      await this.#runTriggerSafely(job_id, Date.now() + INLINE_RETRY_BUDGET_MS)
    }
    await this.#scheduleAlarm()
  }

  /**
   * Authenticates a GitLab webhook as this service's own: its X-Gitlab-Token must be the webhook
   * secret sealed in this service's registration, and the event's project this service's project.
   * Another operator's secret, or a hook of another project, moves nothing here.
   */
  async #authenticateHook(token: string, project: { id: number | null; path: string | null }) {
    const unauthorized = () =>
      new ApiError(401, ApiErrorCode.UNAUTHORIZED, 'X-Gitlab-Token is missing or wrong')
    const registration = this.#registration()
    if (!registration) throw unauthorized()
    const { webhookSecret } = await this.#openCredentials(registration)
    // A registration that sealed no webhook secret accepts no webhooks.
    if (webhookSecret === undefined || !(await secretsEqual(token, webhookSecret))) {
      throw unauthorized()
    }
    const expected = registration.descriptor.project
    const matches = /^\d+$/.test(expected)
      ? project.id !== null && String(project.id) === expected
      : project.path !== null && project.path.toLowerCase() === expected.toLowerCase()
    if (!matches) {
      throw new ApiError(
        403,
        ApiErrorCode.WRONG_PROJECT,
        "the event's project is not this service's project",
      )
    }
  }

  /** Applies a GitLab pipeline or job event to a job record; duplicates (same key) are ignored. */
  async applyGitlabEvent(event: {
    token: string
    jobId: string
    idempotencyKey: string | null
    pipelineId: number
    projectId: number | null
    projectPath: string | null
    status: string
    webUrl: string | null
    kind: 'pipeline' | 'job'
    detail: string
  }): Promise<Outcome<{ applied: boolean }>> {
    return guarded(async () => {
      await this.#authenticateHook(event.token, { id: event.projectId, path: event.projectPath })
      const job = this.#jobRow(event.jobId)
      if (!job) throw new ApiError(404, ApiErrorCode.NOT_FOUND, 'no such job')
      if (job.project_id !== null && job.project_id !== event.projectId) {
        throw new ApiError(
          403,
          ApiErrorCode.WRONG_PROJECT,
          "the event's project is not this job's project",
        )
      }
      const now = Date.now()
      if (event.idempotencyKey !== null) {
        const seen = this.#sql
          .exec('SELECT 1 FROM hook_keys WHERE key = ?', event.idempotencyKey)
          .toArray()
        if (seen.length > 0) return { applied: false }
        this.#sql.exec(
          'INSERT INTO hook_keys (key, forget_at) VALUES (?, ?)',
          event.idempotencyKey,
          now + HOOK_KEY_TTL_MS,
        )
      }
      if (job.pipeline_id !== null && job.pipeline_id !== event.pipelineId) {
        // An event for another pipeline (a retried one, or a stray id): history only.
        this.#event(event.jobId, event.status, 'gitlab', now, `${event.detail} (other pipeline)`)
        return { applied: false }
      }
      if (job.pipeline_id === null) {
        // The webhook can overtake the trigger's own answer, and resolves trigger_unknown.
        this.#recordPipeline(event.jobId, {
          id: event.pipelineId,
          project_id: event.projectId ?? undefined,
          web_url: event.webUrl ?? undefined,
        })
        await this.#pointPipeline(event.projectId ?? undefined, event.pipelineId, event.jobId)
      }
      // Out-of-order deliveries must not move a finished job back to running.
      const status = TERMINAL.has(job.status as string) ? (job.status as string) : event.status
      if (event.kind === 'pipeline') {
        this.#sql.exec(
          'UPDATE jobs SET status = ?, updated_at = ? WHERE job_id = ?',
          status,
          now,
          event.jobId,
        )
      }
      this.#event(event.jobId, event.status, 'gitlab', now, event.detail)
      if (event.kind === 'pipeline') this.#applyCharge(event.jobId)
      await this.#scheduleAlarm()
      return { applied: true }
    })
  }

  /** Stores the runner's signed result report after checking the runner key and signature. */
  async reportResult(report: ResultReport): Promise<Outcome<{ stored: boolean }>> {
    return guarded(async () => {
      const registration = this.#requireRegistration()
      const job = this.#jobRow(report.jobId)
      if (!job) throw new ApiError(404, ApiErrorCode.NOT_FOUND, 'no such job')
      if (report.runner !== registration.descriptor.runnerPublicKey) {
        throw new ApiError(403, ApiErrorCode.WRONG_RUNNER, "not this service's runner key")
      }
      // The signature binds this service and this job: a genuine report of another job is refused.
      const verified = verifyResultReport(report, registration.service)
      if (!verified.ok) {
        throw new ApiError(
          403,
          ApiErrorCode.BAD_SIGNATURE,
          'the runner signature does not verify',
          ['signature'],
        )
      }
      const { v: _v, jobId: _j, ...result } = report
      const text = JSON.stringify(result)
      if (job.result !== null) {
        if (job.result === text) return { stored: false }
        throw new ApiError(
          409,
          ApiErrorCode.RESULT_CONFLICT,
          'a different result is already stored',
        )
      }
      const now = Date.now()
      this.#sql.exec(
        'UPDATE jobs SET result = ?, updated_at = ? WHERE job_id = ?',
        text,
        now,
        report.jobId,
      )
      this.#event(report.jobId, 'result_reported', 'runner', now, report.bundleCid)
      this.#applyCharge(report.jobId)
      return { stored: true }
    })
  }

  /** A job's record and history, or null. */
  async job(jobId: string): Promise<JobView | null> {
    const job = this.#jobRow(jobId)
    if (!job) return null
    const history = this.#sql
      .exec<{ status: string; at: number; source: string; detail: string | null }>(
        'SELECT status, at, source, detail FROM job_events WHERE job_id = ? ORDER BY seq',
        jobId,
      )
      .toArray()
      .map((e) => ({
        status: e.status,
        at: new Date(e.at).toISOString(),
        source: e.source as JobEvent['source'],
        ...(e.detail !== null ? { detail: e.detail } : {}),
      }))
    return {
      jobId,
      service: this.#requireRegistration().service,
      user: job.user as string,
      status: job.status as string,
      createdAt: new Date(job.created_at as number).toISOString(),
      updatedAt: new Date(job.updated_at as number).toISOString(),
      pipeline:
        job.pipeline_id === null
          ? null
          : {
              id: job.pipeline_id as number,
              projectId: (job.project_id as number | null) ?? null,
              webUrl: (job.pipeline_url as string | null) ?? null,
            },
      history,
      result: job.result === null ? null : JSON.parse(job.result as string),
      voucher: ((v) => (v ? { cumulativeAmount: v.cumulativeAmount, nonce: v.nonce } : null))(
        voucherOf(job.variables as string),
      ),
      charge: this.#chargeView(job),
    }
  }

  #chargeView(job: Row): JobCharge {
    const charge = this.#sql
      .exec<{ amount: string; released_reason: string | null }>(
        'SELECT amount, released_reason FROM charges WHERE job_id = ?',
        job.job_id as string,
      )
      .toArray()[0]
    if (charge?.released_reason)
      return {
        state: 'not-charged',
        amount: '0',
        reason: charge.released_reason as NotChargedReason,
      }
    const amount = charge?.amount ?? '0'
    return { state: job.result === null ? 'pending' : 'charged', amount }
  }

  /** Trigger attempts of a job, for tests and operators: outcome only, never a token. */
  async attempts(jobId: string): Promise<{ attempt: number; outcome: string | null }[]> {
    return this.#sql
      .exec<{ attempt: number; outcome: string | null }>(
        'SELECT attempt, outcome FROM trigger_attempts WHERE job_id = ? ORDER BY attempt',
        jobId,
      )
      .toArray()
  }
}

/** Logs an unexpected error by kind only: a message could quote a secret-bearing value. */
function logUnexpected(what: string, error: unknown): void {
  console.error(`unexpected ${error instanceof Error ? error.name : typeof error} while ${what}`)
}

import { DurableObject } from 'cloudflare:workers'
import {
  chargeOfJob,
  checkDriver,
  type DriverFacts,
  DriverRefusal,
  type DriverRefusalCode,
  driverParameters,
  type Envelope,
  isPrivateService,
  type JobSubmission,
  type LedgerReading,
  type NotChargedReason,
  openJson,
  type ParameterSpec,
  type PrivateCoordinates,
  type PublicServiceDescriptor,
  parseVoucher,
  providerUrlProblem,
  type ResultReport,
  resolveRunsOn,
  resultDeadline,
  resultInTime,
  runLink,
  type ServiceRegistration,
  type ServiceRetirement,
  ServiceUnavailable,
  type SolvencyVerdict,
  type SponsoredSubmission,
  type SponsorshipGrant,
  sealedCoordinates,
  sealJson,
  TRIGGER_TOKEN_INFO,
  type Voucher,
  validateParameters,
  verifyResultReport,
  verifyServiceRetirement,
} from '../protocol/index.ts'
import { chainReaderFor } from './chain.ts'
import { type Config, configOf } from './config.ts'
import type { Env } from './env.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import { LEDGER_FOLLOWER_SCHEMA, LedgerFollower } from './ledger-follower.ts'
import { LEDGER_RECEIPTS_SCHEMA, ReceiptKeeper } from './ledger-receipts.ts'
import { keptLedgerSolvency } from './ledger-solvency-kept.ts'
import { PROVIDER_QUOTA_SCHEMA, ProviderQuota } from './provider-quota.ts'
import {
  backoffMs,
  type HookEvidence,
  type Provider,
  type ProviderContext,
  type ProviderName,
  providerOf,
  type RunRef,
  type TriggerOutcome,
  triggerVariables,
} from './providers/index.ts'
import {
  type Availability,
  availabilityOf,
  checkDescriptorAgainstChain,
  MAX_RELEASED_LISTED,
  type ReleasedJob,
  readServiceChainState,
  refusalOf,
  requireGenuine,
  requireSolvent,
  type ServiceChainState,
  type ServiceChainState as ServiceChainStateOf,
  userFunding,
} from './service-status.ts'
import { serviceStub } from './services.ts'
import { isDeadPool, SPONSOR_POOLS_SCHEMA, SponsorPools, utcDay } from './sponsor-pools.ts'

/** How far a retirement's signing time may be from the Worker's clock (a replay window, not a TTL). */
const RETIREMENT_SKEW_MS = 10 * 60 * 1000
/** How long one POST /v1/jobs may spend retrying the provider before the alarm takes over. */
const INLINE_RETRY_BUDGET_MS = 5_000
/** Attempts of one trigger in total (inline and by alarm) before the job is marked trigger_failed. */
const MAX_TOTAL_ATTEMPTS = 12
/** Request ids are kept this long past their expiry, so clock skew cannot reopen them. */
const REQUEST_ID_MARGIN_MS = 60 * 60 * 1000
/** Webhook de-duplication keys are kept this long. */
const HOOK_KEY_TTL_MS = 24 * 60 * 60 * 1000
/** A job whose trigger threw unexpectedly is tried again this much later (not in a hot loop). */
const FAILED_TRIGGER_RETRY_MS = 30_000
/** How long a ledger seen solvent is trusted before an admission checks it again. */
const SOLVENCY_RECHECK_MS = 10 * 60 * 1000

/**
 * A job's status: GitLab's pipeline statuses (GitHub's are mapped onto them) plus the Worker's own
 * before and around the trigger.
 */
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

/** Statuses that show the provider put a job on a runner: it takes work (no quota holds it back). */
const RAN = new Set(['running', 'success'])

/** One entry of a job's status history. */
export interface JobEvent {
  status: string
  at: string
  source: 'worker' | ProviderName | 'runner'
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
  /** The provider's run: GitLab's pipeline id is a number, GitHub's 64-bit run id a string. */
  pipeline: { id: number | string; projectId: number | null; webUrl: string | null } | null
  history: JobEvent[]
  result: Omit<ResultReport, 'v' | 'jobId'> | null
  /** What the user signed for this job: the voucher it was admitted with (cumulative amount, nonce). */
  voucher: { cumulativeAmount: string; nonce: string } | null
  /** Whether the user pays for the job (protocol's payable rule); `pending` until it is decided. */
  charge: JobCharge
}

/** A sponsor's pool as GET /v1/services/:address answers it (credits as decimal strings). */
export interface PoolView {
  sponsor: string
  jobsPerUserPerDay: number
  endSlot: string
  cap: string
  /** What the pool may pay in all (ledger, capped), what admitted jobs owe it, what is left. */
  pool: { deposit: string; owed: string; fundable: string }
  /** Jobs the pool can still pay at the frozen price. */
  jobsLeft: string
  enabled: boolean
  reason?: string
  /** The asking user's jobs on this pool today and how many more they may run (with `?user=`). */
  allowance?: { used: number; left: number }
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

/** A provider's run event (webhook), as its route parsed it; the object authenticates it. */
export interface RunEvent {
  /** The provider whose route received the event: only a service of that provider takes it. */
  provider: ProviderName
  /** The provider's proof of origin, checked against this service's sealed webhook secret. */
  evidence: HookEvidence
  jobId: string
  idempotencyKey: string | null
  runId: string
  projectId: number | null
  projectPath: string | null
  status: string
  webUrl: string | null
  /** A run event moves the job's status; a job (step) event is history only. */
  kind: 'pipeline' | 'job'
  detail: string
  /** The provider says it will not run the job for quota (GitLab's `ci_quota_exceeded`). */
  quotaRefused?: boolean
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
  /** The ledger last seen solvent, and until when it counts so without a fresh check. */
  #solvency: { ledger: string | null | undefined; until: number } = { ledger: null, until: 0 }
  /** When the alarm this instance last saw or set fires; undefined when not known. */
  #alarmAt: number | undefined
  /** The opened credentials of the sealed trigger token they came from: one HPKE open per registration. */
  #credentials:
    | { sealed: string; value: unknown; coordinates: PrivateCoordinates | null }
    | undefined

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.#sql = ctx.storage.sql
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS registration (
        id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, registered_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS retirement (
        id INTEGER PRIMARY KEY CHECK (id = 1), retired_at INTEGER NOT NULL);
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
      -- Ledgers this object has seen solvent: a later reading that cannot be made does not
      -- refuse them (kept across evictions, so a stranger's spam cannot wait for one).
      CREATE TABLE IF NOT EXISTS solvent_ledgers (ledger TEXT PRIMARY KEY, checked_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS charges (
        job_id TEXT PRIMARY KEY, amount TEXT NOT NULL, released_reason TEXT);
      -- Jobs whose charge is not decided yet, by result deadline: what the alarm waits for. A row
      -- leaves once the job is decided (a result, a release), so the alarm reads one index entry.
      CREATE TABLE IF NOT EXISTS awaiting_result (
        job_id TEXT PRIMARY KEY, due_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS awaiting_result_due ON awaiting_result (due_at);
      ${PROVIDER_QUOTA_SCHEMA}
      ${LEDGER_FOLLOWER_SCHEMA}
      ${LEDGER_RECEIPTS_SCHEMA}
      ${SPONSOR_POOLS_SCHEMA}
    `)
    // Run ids as text (GitHub's are 64-bit); rows from before keep theirs from pipeline_id.
    try {
      this.#sql.exec('ALTER TABLE jobs ADD COLUMN run_id TEXT')
      this.#sql.exec(
        'UPDATE jobs SET run_id = CAST(pipeline_id AS TEXT) WHERE pipeline_id IS NOT NULL',
      )
    } catch {
      // The column exists already.
    }
    // Each job's result deadline (protocol's resultDeadline), fixed at admission. Rows from before
    // it was kept get one once, here, from their admission and the protocol's default window (the
    // constructor cannot read the Worker's configuration), and the undecided ones await it.
    let added = false
    try {
      this.#sql.exec('ALTER TABLE jobs ADD COLUMN result_by INTEGER')
      added = true
    } catch {
      // The column exists already.
    }
    if (added) {
      // resultDeadline from 0 is the default window itself, in ms.
      this.#sql.exec(
        'UPDATE jobs SET result_by = created_at + ? WHERE result_by IS NULL',
        resultDeadline(0),
      )
      this.#sql.exec(
        `INSERT OR IGNORE INTO awaiting_result (job_id, due_at)
           SELECT j.job_id, j.result_by FROM jobs j JOIN charges c ON c.job_id = j.job_id
            WHERE j.result IS NULL AND c.released_reason IS NULL`,
      )
    }
  }

  #config(): Config {
    return configOf(this.env)
  }

  /** This service's ledger reading, kept and continued (see ledger-follower.ts). */
  #ledgerFollower: LedgerFollower | undefined
  #ledger(config: Config): LedgerFollower {
    if (!this.#ledgerFollower || this.#ledgerFollower.maxPerRead !== config.ledgerActionsPerRead)
      this.#ledgerFollower = new LedgerFollower(
        { sql: this.#sql, transactionSync: (fn) => this.ctx.storage.transactionSync(fn) },
        config.ledgerActionsPerRead,
      )
    return this.#ledgerFollower
  }

  /**
   * The solvency verdict of `ledger` from this object's kept readings and receipts (see
   * ledger-solvency-kept.ts): only the head and a bounded number of receipt documents are read
   * each time; an unfinished reading answers 503.
   */
  #solvencyOf(config: Config): (ledger: string, creditTokenId: string) => Promise<SolvencyVerdict> {
    return (ledger, creditTokenId) =>
      keptLedgerSolvency(
        chainReaderFor(config),
        this.#ledger(config),
        new ReceiptKeeper(this.#sql),
        ledger,
        creditTokenId,
      )
  }

  /** The ledger's book continued from the kept reading; 409 when the service names no ledger. */
  #ledgerBook(config: Config, chainState: ServiceChainState): Promise<LedgerReading> {
    if (!chainState.ledger)
      throw new ApiError(409, ApiErrorCode.UNSAFE_SERVICE, 'the service names no ledger')
    return this.#ledger(config).read(chainReaderFor(config), chainState.ledger, chainState.terms)
  }

  /** The sponsorships of this service: their grants and sponsored jobs (see sponsor-pools.ts). */
  #pools(): SponsorPools {
    return new SponsorPools(this.#sql)
  }

  /**
   * Stores a sponsor's signature-checked grant for this registered, live service version. Anyone
   * may deliver it: only the sponsor's key signs one, and an older grant cannot replace a newer.
   */
  async sponsor(grant: SponsorshipGrant): Promise<Outcome<{ sponsor: string; vouchers: number }>> {
    return guarded(async () => {
      this.#requireRegistration()
      if (this.#retiredAt() !== null) throw refusalOf(ServiceUnavailable.RETIRED)
      // Only a funded pool is kept: storing and listing grants costs the service's object, so a
      // stranger's stream of grants from fresh keys must cost a deposit each.
      const config = this.#config()
      const chain = chainReaderFor(config)
      const { service, sponsor } = grant.sponsorship
      const chainState = await readServiceChainState(chain, service, config.genuine)
      if (!chainState) {
        throw new ApiError(404, ApiErrorCode.UNKNOWN_SERVICE, 'no service contract at this address')
      }
      requireGenuine(chainState)
      const reading = await this.#ledgerBook(config, chainState)
      if (reading.book.fundable(sponsor) < chainState.terms.pricePerJob) {
        throw new ApiError(
          409,
          ApiErrorCode.SERVICE_DISABLED,
          `the pool cannot pay one job (${ServiceUnavailable.FUNDING_EXHAUSTED}): deposit for the sponsor's channel first`,
          ['sponsorship', 'sponsor'],
        )
      }
      const price = chainState.terms.pricePerJob
      this.#pools().offer(grant, Date.now(), (g) =>
        isDeadPool(
          g,
          reading.book.get(g.sponsorship.sponsor),
          this.#channel(g.sponsorship.sponsor),
          price,
          chainState.currentSlot,
        ),
      )
      return { sponsor: grant.sponsorship.sponsor, vouchers: grant.vouchers.length }
    })
  }

  /**
   * Every pool of this service as the page shows it: its limits, what it can still pay (the
   * ledger's book of the sponsor's channel, less what admitted jobs owe it), whether it takes a
   * job (the availability rule, funding-exhausted), and `user`'s allowance left today.
   */
  #poolViews(
    chainState: NonNullable<Awaited<ReturnType<typeof readServiceChainState>>>,
    book: LedgerReading,
    user: string | undefined,
    health: ReturnType<ProviderQuota['health']>,
  ): PoolView[] {
    const pools = this.#pools()
    const day = utcDay(Date.now())
    return pools.all().map((grant) => {
      const { sponsor, jobsPerUserPerDay, endSlot, cap } = grant.sponsorship
      const f = pools.figures(
        grant,
        userFunding(book, sponsor),
        this.#channel(sponsor),
        chainState.currentSlot,
      )
      const availability = availabilityOf(
        chainState,
        this.#config().heartbeatMaxAgeSlots,
        undefined,
        {
          retired: this.#retiredAt() !== null,
          health,
          pool: { fundable: f.fundable, open: f.open },
        },
      )
      const used = user ? pools.usedOn(sponsor, user, day) : 0
      return {
        sponsor,
        jobsPerUserPerDay,
        endSlot,
        cap,
        pool: { deposit: String(f.deposit), owed: String(f.owed), fundable: String(f.fundable) },
        jobsLeft: String(f.fundable / chainState.terms.pricePerJob),
        enabled: availability.enabled,
        ...(availability.reason ? { reason: availability.reason } : {}),
        ...(user ? { allowance: { used, left: Math.max(0, jobsPerUserPerDay - used) } } : {}),
      }
    })
  }

  /** Records that this object saw `ledger` solvent (registration and admission both do). */
  #markSolvent(ledger: string): void {
    this.#sql.exec(
      'INSERT OR REPLACE INTO solvent_ledgers (ledger, checked_at) VALUES (?, ?)',
      ledger,
      Date.now(),
    )
  }

  /** The provider-quota health check of this service (see provider-quota.ts). */
  #quota(): ProviderQuota {
    return new ProviderQuota(this.#sql, this.#config().quotaProbeMs)
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

  #provider(registration: StoredRegistration): Provider {
    return providerOf(registration.descriptor.provider)
  }

  async #providerContext(registration: StoredRegistration): Promise<ProviderContext> {
    return { descriptor: await this.#runsOn(registration), config: this.#config() }
  }

  /**
   * Where the service's job runs: a public descriptor names it; a private service's coordinates
   * come only from its sealed registration, opened here and never written anywhere in the clear.
   */
  async #runsOn(registration: StoredRegistration): Promise<PublicServiceDescriptor> {
    const { descriptor } = registration
    if (!isPrivateService(descriptor)) return descriptor
    await this.#openCredentials(registration)
    const coordinates = this.#credentials?.coordinates
    if (!coordinates) {
      throw new ApiError(409, ApiErrorCode.SERVICE_DISABLED, 'the sealed coordinates do not open')
    }
    const runsOn = resolveRunsOn(descriptor, coordinates)
    if (!runsOn.ok) throw new ApiError(409, ApiErrorCode.SERVICE_DISABLED, runsOn.error.message)
    return runsOn.value
  }

  #retiredAt(): number | null {
    const row = this.#sql
      .exec<{ retired_at: number }>('SELECT retired_at FROM retirement WHERE id = 1')
      .toArray()[0]
    return row ? row.retired_at : null
  }

  /**
   * Retires this service version: no new job is admitted, jobs already admitted finish. Only the
   * registered descriptor's runner key retires, and only with a signature made near now. Final:
   * a retired version is not registered again (an old registration replayed would revive it);
   * the operator offers a new version instead. Retiring twice answers the first retirement.
   */
  async retire(retirement: ServiceRetirement): Promise<Outcome<{ retiredAt: string }>> {
    return guarded(async () => {
      const registration = this.#requireRegistration()
      const signed = verifyServiceRetirement(retirement, registration.descriptor.runnerPublicKey)
      if (!signed.ok) {
        throw new ApiError(
          403,
          ApiErrorCode.BAD_SIGNATURE,
          'the retirement is not signed by the service’s runner key',
          ['signature'],
        )
      }
      const now = Date.now()
      if (Math.abs(now - retirement.at) > RETIREMENT_SKEW_MS) {
        throw new ApiError(409, ApiErrorCode.EXPIRED, 'the retirement was signed too long ago', [
          'at',
        ])
      }
      const already = this.#retiredAt()
      if (already !== null) return { retiredAt: new Date(already).toISOString() }
      this.#sql.exec('INSERT INTO retirement (id, retired_at) VALUES (1, ?)', now)
      return { retiredAt: new Date(now).toISOString() }
    })
  }

  /** The registration's sealed credentials, opened and read by its provider. */
  async #openCredentials(registration: StoredRegistration): Promise<unknown> {
    const config = this.#config()
    const { kid, enc, ct } = registration.triggerToken
    const sealed = `${kid}.${enc}.${ct}`
    if (this.#credentials?.sealed === sealed && kid === config.currentKey.kid)
      return this.#credentials.value
    const opened = await openJson(config.keys, registration.triggerToken, TRIGGER_TOKEN_INFO)
    const credentials = opened.ok ? this.#provider(registration).credentials(opened.value) : null
    if (!opened.ok || credentials === null) {
      // Sealed to a key that has since rotated out: the operator must register again.
      throw new ApiError(409, ApiErrorCode.SERVICE_DISABLED, 'the trigger token no longer opens')
    }
    if (registration.triggerToken.kid !== config.currentKey.kid) {
      // Keep the stored token readable after the previous key's grace period ends.
      const resealed = await sealJson(config.currentKey.publicKey, TRIGGER_TOKEN_INFO, opened.value)
      const next: StoredRegistration = { ...registration, triggerToken: resealed }
      this.#sql.exec('UPDATE registration SET body = ? WHERE id = 1', JSON.stringify(next))
    }
    this.#credentials = { sealed, value: credentials, coordinates: sealedCoordinates(opened.value) }
    return credentials
  }

  /** Registers (or re-registers) this service version after checking it against the chain. */
  async register(registration: ServiceRegistration): Promise<Outcome<{ registeredAt: string }>> {
    return guarded(async () => {
      if (this.#retiredAt() !== null) {
        throw new ApiError(
          409,
          ApiErrorCode.SERVICE_RETIRED,
          'this service version is retired: offer a new version instead',
        )
      }
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
      // A ledger whose money does not add up is listed nowhere.
      await requireSolvent(this.#solvencyOf(config), chainState)
      this.#markSolvent(chainState.ledger ?? '')
      const opened = await openJson(config.keys, registration.triggerToken, TRIGGER_TOKEN_INFO)
      if (!opened.ok) {
        const code =
          opened.error.code === 'UNKNOWN_KEY_ID'
            ? ApiErrorCode.UNKNOWN_KEY_ID
            : ApiErrorCode.DECRYPT_FAILED
        throw new ApiError(400, code, `triggerToken: ${opened.error.message}`, ['triggerToken'])
      }
      if (providerOf(registration.descriptor.provider).credentials(opened.value) === null) {
        throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'triggerToken: not a token', [
          'triggerToken',
        ])
      }
      const resolved = resolveRunsOn(registration.descriptor, sealedCoordinates(opened.value))
      if (!resolved.ok) {
        throw new ApiError(
          422,
          ApiErrorCode.INVALID_BODY,
          resolved.error.message,
          resolved.error.path,
        )
      }
      const runsOn = resolved.value
      // Messages name the field, never a sealed value: the answer goes back over the network.
      const urlProblem = providerUrlProblem(runsOn.providerUrl, {
        allowLoopbackHttp: config.allowLoopbackProvider,
      })
      if (urlProblem !== null) {
        throw new ApiError(
          422,
          ApiErrorCode.INVALID_BODY,
          isPrivateService(registration.descriptor)
            ? 'the sealed providerUrl is not an https URL the Worker may call'
            : `providerUrl ${urlProblem}`,
          isPrivateService(registration.descriptor)
            ? ['triggerToken', 'coordinates', 'providerUrl']
            : ['descriptor', 'providerUrl'],
        )
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
      retiredAt: string | null
      /** While the provider refuses work for quota: since when, and when one job may probe it. */
      providerQuota: { since: string; probeAt: string } | null
      descriptor: ServiceRegistration['descriptor'] | null
      descriptorCid: string | null
      availability: Availability | null
      /** The sponsors' pools that pay for this service's jobs (empty when none). */
      sponsorships: PoolView[]
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
      let sponsorships: PoolView[] = []
      if (chainState) {
        const funding =
          user && registration && chainState.verdict.genuine
            ? {
                deposit: userFunding(await this.#ledgerBook(config, chainState), user).deposit,
                owed: this.#owed(user),
                voucher: this.#latestVoucher(user),
                released: this.#releasedJobs(user),
              }
            : undefined
        availability = availabilityOf(chainState, config.heartbeatMaxAgeSlots, funding, {
          retired: this.#retiredAt() !== null,
          health: this.#quota().health(Date.now()),
        })
        if (registration && chainState.verdict.genuine && this.#pools().all().length > 0) {
          sponsorships = this.#poolViews(
            chainState,
            await this.#ledgerBook(config, chainState),
            user,
            this.#quota().health(Date.now()),
          )
        }
      }
      return {
        registered: registration !== null,
        retiredAt: ((at) => (at === null ? null : new Date(at).toISOString()))(this.#retiredAt()),
        providerQuota: ((q) =>
          q && {
            since: new Date(q.since).toISOString(),
            probeAt: new Date(q.probeAt).toISOString(),
          })(this.#quota().state()),
        descriptor: registration?.descriptor ?? null,
        descriptorCid: registration?.descriptorCid ?? null,
        availability,
        sponsorships,
      }
    })
  }

  /** What a user owes now: their channel once jobs past their result deadline are released. */
  #owed(user: string): bigint {
    this.#decideOverdue(Date.now(), user)
    return this.#channel(user).cumulative
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
        // A sponsored job carries its pool's voucher, not the user's: it is no proof of theirs.
        `SELECT variables FROM jobs WHERE user = ?
           AND job_id NOT IN (SELECT job_id FROM sponsored_jobs) ORDER BY rowid DESC LIMIT 1`,
        user,
      )
      .toArray()[0]
    return row ? voucherOf(row.variables) : null
  }

  /**
   * The user's newest jobs released as not charged (the gap between their latest voucher and what
   * they owe), so the page can name them. Sponsored jobs are their pool's, not the user's.
   */
  #releasedJobs(user: string): ReleasedJob[] {
    return this.#sql
      .exec<{ job_id: string; amount: string; released_reason: string }>(
        `SELECT c.job_id, c.amount, c.released_reason FROM charges c JOIN jobs j ON j.job_id = c.job_id
          WHERE j.user = ? AND c.released_reason IS NOT NULL
            AND c.job_id NOT IN (SELECT job_id FROM sponsored_jobs)
          ORDER BY j.rowid DESC LIMIT ?`,
        user,
        MAX_RELEASED_LISTED,
      )
      .toArray()
      .map((r) => ({
        jobId: r.job_id,
        amount: r.amount,
        reason: r.released_reason as NotChargedReason,
      }))
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
    submission: JobSubmission | SponsoredSubmission,
  ): Promise<Outcome<{ jobId: string; status: JobStatus; pipelineId: number | string | null }>> {
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

  /**
   * Refuses (422, the rule's code) a request whose `service` parameter names no valid driver by
   * protocol's checkDriver. Each driver's facts are read as for its own status: its object's
   * registration and retirement, the chain's state judged by the availability rule (no user).
   */
  async #requireDrivers(
    specs: readonly ParameterSpec[],
    values: Record<string, string>,
    self: string,
  ): Promise<void> {
    for (const { spec, address } of driverParameters(specs, values)) {
      // This object's own status is read in place, not through a call to itself.
      const status =
        address === self
          ? await this.status(address)
          : await serviceStub(this.env, address).status(address)
      if (!status.ok) {
        throw new ApiError(
          status.status as ApiError['status'],
          status.code as ApiErrorCode,
          status.message,
        )
      }
      const verdict = checkDriver(spec, address, driverFactsOf(status.value))
      if (!verdict.ok) {
        throw new ApiError(422, DRIVER_CODES[verdict.code], verdict.message, verdict.path)
      }
    }
  }

  async #admit(
    submission: JobSubmission | SponsoredSubmission,
  ): Promise<{ jobId: string; status: JobStatus; pipelineId: number | string | null }> {
    const { request } = submission
    // A sponsored request names a sponsor whose pool pays; its user signs no voucher.
    const sponsor = 'sponsored' in submission ? submission.sponsored.sponsor : null
    const grant = sponsor === null ? null : this.#pools().grant(sponsor)
    if (sponsor !== null && grant === null) {
      throw new ApiError(
        404,
        ApiErrorCode.SPONSORSHIP_UNKNOWN,
        'no sponsorship of this sponsor for this service',
        ['sponsored', 'sponsor'],
      )
    }
    const replayed = () =>
      new ApiError(409, ApiErrorCode.REPLAYED, 'this request id was already used')
    const registration = this.#requireRegistration()
    // Checked before anything is read: a retired version answers the same whatever the chain says.
    if (this.#retiredAt() !== null) throw refusalOf(ServiceUnavailable.RETIRED)
    const { descriptor } = registration
    // Where the job runs: a private service's job name and coordinates come from its sealed opening.
    const runsOn = await this.#runsOn(registration)
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
    // Drivers before the chain read and the admission: a refused driver charges nothing.
    await this.#requireDrivers(descriptor.parameters, parameters.value, request.service)
    const config = this.#config()
    const chain = chainReaderFor(config)
    const chainState = await readServiceChainState(chain, request.service, config.genuine)
    if (!chainState) {
      throw new ApiError(404, ApiErrorCode.UNKNOWN_SERVICE, 'no service contract at this address')
    }
    requireGenuine(chainState)
    // A job is admitted only against an escrow that covers what the ledger owes. Refused before
    // anything is recorded, so nothing is charged. Read fresh, then trusted for a while: a genuine,
    // frozen ledger can only be made insolvent before its freeze (its methods keep the books
    // equal), so what the check catches is a ledger that never was solvent, which the first
    // admission of this object sees; the re-check is defence in depth, and keeps the hot path to
    // the incremental book read below.
    if (Date.now() >= this.#solvency.until || this.#solvency.ledger !== chainState.ledger) {
      const ledger = chainState.ledger ?? ''
      const seen =
        this.#solvency.ledger === chainState.ledger ||
        this.#sql.exec('SELECT 1 FROM solvent_ledgers WHERE ledger = ?', ledger).toArray().length >
          0
      try {
        await requireSolvent(this.#solvencyOf(config), chainState)
      } catch (err) {
        // Only a definite verdict refuses a ledger this object saw solvent: a reading that cannot
        // be made now (a lagging archive, a stranger's actions past the read cap) is retried later.
        if (!(seen && err instanceof ApiError && err.status === 503)) throw err
      }
      this.#solvency = { ledger: chainState.ledger, until: Date.now() + SOLVENCY_RECHECK_MS }
      this.#markSolvent(ledger)
    }
    // The user's channel in the ledger's book, continued to the node's action state now: a user
    // who deposited a moment ago is not refused on a stale read, and only the actions landed since
    // the kept reading are read and hashed. Only the user's own signed actions lower what they
    // can fund.
    const book = await this.#ledgerBook(config, chainState)
    // A sponsored job is funded by the pool, the sponsor's channel: the user's own is not read.
    const { deposit, settledNonce } = userFunding(book, sponsor ?? request.user)
    const price = chainState.terms.pricePerJob

    // Admission: from here to the INSERTs there is no await, so it is atomic in this object.
    const now = Date.now()
    // Fixed by the Worker's clock at admission: nothing the user, the provider or the runner sends
    // later moves it.
    const resultBy = resultDeadline(now, config.resultWindow)
    this.ctx.storage.transactionSync(() => {
      if (this.#seen(request.requestId)) throw replayed()
      // Jobs past their result deadline are released before what the payer owes is read, whether
      // or not the alarm has fired yet (a pool's jobs are many users': all overdue ones).
      this.#decideOverdue(now, sponsor === null ? request.user : undefined)
      const quota = this.#quota()
      const { voucher, payer, cumulative, nonce } =
        sponsor !== null && grant !== null
          ? this.#admitOnPool(grant, request.user, { deposit, settledNonce }, chainState, now)
          : this.#admitOnVoucher(
              submission as JobSubmission,
              { deposit, settledNonce },
              chainState,
              now,
            )
      const variables = triggerVariables(runsOn, {
        requestId: request.requestId,
        service: request.service,
        user: request.user,
        parameters: parameters.value,
        voucher,
        ...(request.callPath?.length ? { callPath: request.callPath } : {}),
      })
      // A provider's own limits (GitHub's 25 inputs) refuse the job before its voucher counts.
      const tooMany = this.#provider(registration).variablesProblem(variables)
      if (tooMany !== null) {
        throw new ApiError(422, ApiErrorCode.TRIGGER_INPUTS_TOO_LARGE, tooMany)
      }
      this.#sql.exec(
        'INSERT INTO requests (request_id, forget_at) VALUES (?, ?)',
        request.requestId,
        request.expiresAt * 1000 + REQUEST_ID_MARGIN_MS,
      )
      this.#sql.exec(
        'INSERT OR REPLACE INTO channels (user, cumulative, nonce) VALUES (?, ?, ?)',
        payer,
        String(cumulative),
        String(nonce),
      )
      if (sponsor !== null) {
        this.#pools().record(request.requestId, sponsor, request.user, utcDay(now))
      }
      this.#insertJob(request, variables, price, now, resultBy)
      // After a quota refusal's wait, this job is the one that probes the provider.
      quota.admitted(request.requestId, now)
    })
    return this.#afterAdmission(request, registration)
  }

  /**
   * The checks of a job its user pays with a voucher, inside admission's transaction: the rule
   * (the user's deposit covers what they owe plus one job), a fresh nonce, the right amount.
   */
  #admitOnVoucher(
    submission: JobSubmission,
    ledger: { deposit: bigint; settledNonce: bigint },
    chainState: ServiceChainStateOf,
    now: number,
  ): { voucher: Voucher; payer: string; cumulative: bigint; nonce: bigint } {
    const { request, voucher } = submission
    const { deposit, settledNonce } = ledger
    const price = chainState.terms.pricePerJob
    const cumulative = BigInt(voucher.cumulativeAmount)
    const nonce = BigInt(voucher.nonce)
    const channel = this.#channel(request.user)
    const availability = availabilityOf(
      chainState,
      this.#config().heartbeatMaxAgeSlots,
      { deposit, owed: channel.cumulative },
      { health: this.#quota().health(now) },
    )
    if (!availability.enabled) {
      throw refusalOf(availability.reason ?? ServiceUnavailable.UNKNOWN_SERVICE)
    }
    // The ledger skips a claim whose nonce is not above the channel's (after a withdrawal, its
    // close nonce): a job under such a voucher would never be paid.
    if (nonce <= channel.nonce || nonce <= settledNonce) {
      const floor =
        nonce <= channel.nonce && channel.nonce >= settledNonce ? channel.nonce : settledNonce
      throw new ApiError(409, ApiErrorCode.VOUCHER_STALE, `voucher nonce must exceed ${floor}`)
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
    return { voucher, payer: request.user, cumulative, nonce }
  }

  /**
   * The checks of a sponsored job, inside admission's transaction: the pool (the sponsor's
   * channel, capped) pays one more job before the end slot with a voucher of its bundle left
   * (funding-exhausted otherwise), and the user has allowance left today. The job carries the
   * pool's next voucher: the runner claims from the sponsor's channel with it.
   */
  #admitOnPool(
    grant: SponsorshipGrant,
    user: string,
    ledger: { deposit: bigint; settledNonce: bigint },
    chainState: ServiceChainStateOf,
    now: number,
  ): { voucher: Voucher; payer: string; cumulative: bigint; nonce: bigint } {
    const pools = this.#pools()
    const { sponsor, jobsPerUserPerDay } = grant.sponsorship
    const channel = this.#channel(sponsor)
    const figures = pools.figures(grant, ledger, channel, chainState.currentSlot)
    const availability = availabilityOf(
      chainState,
      this.#config().heartbeatMaxAgeSlots,
      undefined,
      {
        health: this.#quota().health(now),
        pool: { fundable: figures.fundable, open: figures.open },
      },
    )
    if (!availability.enabled) {
      throw refusalOf(availability.reason ?? ServiceUnavailable.UNKNOWN_SERVICE)
    }
    const used = pools.usedOn(sponsor, user, utcDay(now))
    if (used >= jobsPerUserPerDay) {
      throw new ApiError(
        429,
        ApiErrorCode.ALLOWANCE_EXCEEDED,
        `this sponsorship allows ${jobsPerUserPerDay} jobs per user per day; you ran ${used} today (UTC)`,
        ['sponsored', 'sponsor'],
      )
    }
    // `open` holds only with a next voucher.
    const voucher = figures.next!
    return {
      voucher,
      payer: sponsor,
      cumulative: channel.cumulative + chainState.terms.pricePerJob,
      nonce: BigInt(voucher.nonce),
    }
  }

  /** Writes an admitted job's row, its charge and its first event (inside admission's transaction). */
  #insertJob(
    request: JobSubmission['request'],
    variables: Record<string, string>,
    price: bigint,
    now: number,
    resultBy: number,
  ): void {
    this.#sql.exec(
      `INSERT INTO jobs (job_id, user, status, created_at, updated_at, variables, next_attempt_at,
                         result_by)
         VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)`,
      request.requestId,
      request.user,
      now,
      now,
      JSON.stringify(variables),
      // The alarm is the safety net for an inline trigger that never finished (the instance was
      // evicted): it comes due when the inline budget is spent, not now. Due now, it fired while
      // every job's trigger was still in flight, and rescheduled itself again and again.
      now + INLINE_RETRY_BUDGET_MS,
      resultBy,
    )
    // What this job adds to its payer's channel: released again if the job ends not payable.
    this.#sql.exec(
      'INSERT INTO charges (job_id, amount, released_reason) VALUES (?, ?, NULL)',
      request.requestId,
      String(price),
    )
    this.#sql.exec(
      'INSERT INTO awaiting_result (job_id, due_at) VALUES (?, ?)',
      request.requestId,
      resultBy,
    )
    this.#event(request.requestId, 'queued', 'worker', now)
  }

  /** Schedules the safety alarm, writes the job's pointer and triggers it: the job is admitted. */
  async #afterAdmission(
    request: JobSubmission['request'],
    registration: StoredRegistration,
  ): Promise<{ jobId: string; status: JobStatus; pipelineId: number | string | null }> {
    // From here the job is admitted and its voucher counted: whatever fails now, the answer is
    // 202 with the job id (never a 4xx/5xx that would make the user pay again for a new request).
    // The alarm retries the trigger; the pointer is written again below if it failed.
    try {
      await this.#scheduleAlarm()
    } catch (error) {
      logUnexpected('scheduling the alarm', error)
    }
    // The pointer that lets GET /v1/jobs/:id find this object is written while the provider is called.
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
      pipelineId:
        job.run_id === null ? null : this.#provider(registration).viewRunId(job.run_id as string),
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
   * release (a cancel that overtook the runner's report) charges it again, but only before the
   * job's result deadline: past it, reportResult stores no result, so `no-result` is final.
   * Idempotent.
   */
  #applyCharge(jobId: string, now: number = Date.now()): void {
    const job = this.#jobRow(jobId)
    const charge = this.#sql
      .exec<{ amount: string; released_reason: string | null }>(
        'SELECT amount, released_reason FROM charges WHERE job_id = ?',
        jobId,
      )
      .toArray()[0]
    if (!job || !charge) return
    const decided = chargeOfJob(
      {
        status: job.status as string,
        result: job.result === null ? null : JSON.parse(job.result as string),
        quotaRefused: this.#quota().isRefused(jobId),
        resultBy: this.#resultBy(job),
      },
      now,
    )
    if (decided === null) return
    // Decided: the deadline no longer concerns it (a result that came in time keeps deciding).
    this.#sql.exec('DELETE FROM awaiting_result WHERE job_id = ?', jobId)
    const released = charge.released_reason !== null
    if (decided.payable === !released) return
    const amount = BigInt(charge.amount)
    // A sponsored job's charge counts against its sponsor's pool channel, not its user's.
    const user = this.#pools().payerOf(jobId) ?? (job.user as string)
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

  /** A job's result deadline, fixed at admission (the constructor gave older rows theirs). */
  #resultBy(job: Row): number {
    return job.result_by as number
  }

  /**
   * Decides every job (of one user, or all) still owed without a result past its deadline: not
   * charged, `no-result`, its price released from what the user owes. Run by the alarm at the
   * deadline and, in case the alarm is late, wherever what a user owes is read.
   */
  #decideOverdue(now: number, user?: string): void {
    const overdue = this.#sql
      .exec<{ job_id: string }>(
        user === undefined
          ? 'SELECT job_id FROM awaiting_result WHERE due_at <= ?'
          : `SELECT a.job_id AS job_id FROM awaiting_result a JOIN jobs j ON j.job_id = a.job_id
              WHERE a.due_at <= ? AND j.user = ?`,
        now,
        ...(user === undefined ? [] : [user]),
      )
      .toArray()
    for (const { job_id } of overdue) {
      this.#applyCharge(job_id, now)
      // Whatever #applyCharge found, a job past its deadline is not awaited again: the alarm
      // never comes due for it in a loop.
      this.#sql.exec('DELETE FROM awaiting_result WHERE job_id = ?', job_id)
    }
  }

  #recordRun(jobId: string, run: RunRef) {
    // The page renders this as an href: only https links to the descriptor's own runs are kept. A
    // private service's run link would name its project: it is not kept.
    const descriptor = this.#registration()?.descriptor
    const link =
      run.webUrl && descriptor && !isPrivateService(descriptor)
        ? runLink(run.webUrl, descriptor)
        : null
    this.#sql.exec(
      `UPDATE jobs SET run_id = ?, project_id = ?, pipeline_url = ?, next_attempt_at = NULL
       WHERE job_id = ?`,
      run.id,
      run.projectId,
      link,
      jobId,
    )
  }

  /** Only job-level webhooks need the run pointer: the answer to the user does not wait for it. */
  #pointRunLater(run: RunRef, jobId: string): void {
    this.ctx.waitUntil(this.#pointRun(run, jobId).catch(() => undefined))
  }

  async #pointRun(run: RunRef, jobId: string) {
    const registration = this.#requireRegistration()
    const name = this.#provider(registration).runPointer(
      await this.#runsOn(registration),
      run,
      await this.#openCredentials(registration),
    )
    if (name === null) return
    await this.env.JOBS.get(this.env.JOBS.idFromName(name)).set(
      JSON.stringify({ service: registration.service, jobId }),
    )
  }

  /**
   * Triggers a job's pipeline at most once. Every attempt is recorded before its request is sent;
   * after an ambiguous attempt (5xx, timeout) the next step is to look for a pipeline carrying the
   * job id, never to send blindly. Without credentials that can look, the job waits for the provider's
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
    const registration = this.#requireRegistration()
    const provider = this.#provider(registration)
    const ctx = await this.#providerContext(registration)
    for (;;) {
      const job = this.#jobRow(jobId)
      if (job?.status !== 'queued') return
      // Past its result deadline a job is decided not charged: triggered now, its runner would
      // work for a result the Worker must refuse (410). It is never triggered again.
      if (!resultInTime(this.#resultBy(job), Date.now())) {
        this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
        this.#setStatus(
          jobId,
          'trigger_failed',
          'worker',
          'its result deadline passed before it was triggered',
        )
        return
      }
      const attempts = this.#sql
        .exec<{ attempt: number; started_at: number; outcome: string | null }>(
          'SELECT attempt, started_at, outcome FROM trigger_attempts WHERE job_id = ? ORDER BY attempt',
          jobId,
        )
        .toArray()
      if (attempts.length >= MAX_TOTAL_ATTEMPTS) {
        this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
        this.#setStatus(
          jobId,
          'trigger_failed',
          'worker',
          `${provider.title} did not accept the trigger`,
        )
        return
      }
      const credentials = await this.#openCredentials(registration)
      // An attempt without an outcome was cut off mid-flight: as ambiguous as a timeout. A
      // dispatch the provider took without naming its run is certain, and never sent again.
      const ambiguous = attempts.some(
        (a) => a.outcome === null || a.outcome === 'ambiguous' || a.outcome === 'dispatched',
      )
      if (ambiguous) {
        const found = await provider.reconcile(ctx, credentials, jobId, attempts[0]!.started_at)
        if (found.kind === 'cannot') {
          this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
          this.#setStatus(
            jobId,
            'trigger_unknown',
            'worker',
            `the trigger may have gone through; waiting for the ${provider.title} webhook`,
          )
          return
        }
        const last = attempts[attempts.length - 1]!
        const settled = Date.now() - last.started_at >= provider.runListedWithinMs
        const certain = last.outcome === 'dispatched'
        if (found.kind === 'unreachable' || (found.kind === 'none' && (certain || !settled))) {
          if (certain && found.kind === 'none' && settled) {
            // Dispatched for sure but still not listed: its webhook (run-name) will name it.
            this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
            this.#setStatus(jobId, 'triggered', 'worker', 'dispatched; run not listed yet')
            return
          }
          if (!(await this.#waitOrDefer(jobId, attempts.length, undefined, deadline))) return
          continue
        }
        if (found.kind === 'found') {
          this.#recordRun(jobId, found.run)
          this.#setStatus(
            jobId,
            'triggered',
            'worker',
            `${provider.runNoun} ${found.run.id} (reconciled)`,
          )
          this.#pointRunLater(found.run, jobId)
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
      const outcome: TriggerOutcome = await provider.trigger(
        ctx,
        credentials,
        jobId,
        JSON.parse(job.variables as string) as Record<string, string>,
      )
      this.#sql.exec(
        'UPDATE trigger_attempts SET outcome = ? WHERE job_id = ? AND attempt = ?',
        outcome.kind,
        jobId,
        attempt,
      )
      if (outcome.kind === 'created') {
        // A webhook may have recorded the run while the answer was on its way.
        this.#recordRun(jobId, outcome.run)
        if (this.#jobRow(jobId)?.status === 'queued') {
          this.#setStatus(jobId, 'triggered', 'worker', `${provider.runNoun} ${outcome.run.id}`)
        }
        this.#pointRunLater(outcome.run, jobId)
        return
      }
      if (outcome.kind === 'dispatched') continue
      if (outcome.kind === 'rejected') {
        this.#sql.exec('UPDATE jobs SET next_attempt_at = NULL WHERE job_id = ?', jobId)
        this.#setStatus(
          jobId,
          'trigger_failed',
          'worker',
          `${provider.title} refused: HTTP ${outcome.status}`,
        )
        return
      }
      const retryAfter = outcome.kind === 'rate-limited' ? outcome.retryAfterMs : undefined
      if (!(await this.#waitOrDefer(jobId, attempt, retryAfter, deadline))) return
    }
  }

  /**
   * Sleeps before the next attempt if the deadline allows; else hands the job to the alarm, no
   * earlier than a rate limit's own wait (which may be an hour: the alarm waits, not a sleep).
   */
  async #waitOrDefer(
    jobId: string,
    attempt: number,
    retryAfterMs: number | undefined,
    deadline: number,
  ): Promise<boolean> {
    const delay = backoffMs(attempt, retryAfterMs)
    if (Date.now() + delay < deadline && (retryAfterMs ?? 0) <= delay) {
      await new Promise((resolve) => setTimeout(resolve, delay))
      return true
    }
    this.#sql.exec(
      'UPDATE jobs SET next_attempt_at = ? WHERE job_id = ?',
      Date.now() + Math.max(delay, retryAfterMs ?? 0, 1000),
      jobId,
    )
    await this.#scheduleAlarm()
    return false
  }

  async #scheduleAlarm(): Promise<void> {
    const next = this.#sql
      .exec<{ at: number | null }>(
        `SELECT MIN(at) AS at FROM (
           SELECT MIN(next_attempt_at) AS at FROM jobs WHERE next_attempt_at IS NOT NULL
           UNION ALL SELECT MIN(forget_at) FROM requests
           UNION ALL SELECT MIN(forget_at) FROM hook_keys
           UNION ALL SELECT MIN(due_at) FROM awaiting_result)`,
      )
      .toArray()[0]?.at
    if (next === null || next === undefined) return
    // The alarm this instance set last is known: an admission whose retry is due later than it
    // reads and writes no alarm (two storage round trips per job otherwise).
    if (this.#alarmAt !== undefined && this.#alarmAt <= next) return
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > next) await this.ctx.storage.setAlarm(next)
    this.#alarmAt = current === null || current > next ? next : current
  }

  /**
   * Retries due triggers, forgets expired request ids and webhook keys, and decides jobs past
   * their result deadline not charged.
   */
  override async alarm(): Promise<void> {
    // A fired alarm is gone: the next #scheduleAlarm sets one again.
    this.#alarmAt = undefined
    const now = Date.now()
    this.#sql.exec('DELETE FROM requests WHERE forget_at <= ?', now)
    this.#sql.exec('DELETE FROM hook_keys WHERE forget_at <= ?', now)
    this.#decideOverdue(now)
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
   * Authenticates a webhook as this service's own: its evidence (GitLab's X-Gitlab-Token, GitHub's
   * body signature) must match the webhook secret sealed in this service's registration, and the
   * event's project be this service's project. Another operator's secret, or a hook of another
   * project, moves nothing here.
   */
  async #authenticateHook(
    provider: ProviderName,
    evidence: HookEvidence,
    project: { id: number | null; path: string | null },
  ) {
    const unauthorized = () =>
      new ApiError(401, ApiErrorCode.UNAUTHORIZED, 'the webhook secret or signature is wrong')
    const registration = this.#registration()
    if (!registration) throw unauthorized()
    // A delivery on another provider's route is never this service's, whatever its evidence: a
    // GitLab secret can have the shape of a GitHub signature, and the two checks differ.
    if (registration.descriptor.provider !== provider) throw unauthorized()
    const credentials = await this.#openCredentials(registration)
    if (!(await this.#provider(registration).authenticate(credentials, evidence))) {
      throw unauthorized()
    }
    const expected = (await this.#runsOn(registration)).project
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

  /** Applies a provider's run or job event to a job record; duplicates (same key) are ignored. */
  async applyRunEvent(event: RunEvent): Promise<Outcome<{ applied: boolean }>> {
    return guarded(async () => {
      await this.#authenticateHook(event.provider, event.evidence, {
        id: event.projectId,
        path: event.projectPath,
      })
      const source = this.#requireRegistration().descriptor.provider
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
      if (job.run_id !== null && job.run_id !== event.runId) {
        // An event for another run (a retried one, or a stray id): history only.
        this.#event(event.jobId, event.status, source, now, `${event.detail} (other pipeline)`)
        return { applied: false }
      }
      if (job.run_id === null) {
        // The webhook can overtake the trigger's own answer, and resolves trigger_unknown.
        const run = { id: event.runId, projectId: event.projectId, webUrl: event.webUrl }
        this.#recordRun(event.jobId, run)
        await this.#pointRun(run, event.jobId)
      } else if (job.project_id === null && event.projectId !== null) {
        this.#sql.exec(
          'UPDATE jobs SET project_id = ? WHERE job_id = ?',
          event.projectId,
          event.jobId,
        )
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
      this.#event(event.jobId, event.status, source, now, event.detail)
      const quota = this.#quota()
      if (event.quotaRefused === true) {
        quota.refused(event.jobId, now)
        this.#event(event.jobId, 'provider_quota', source, now, 'refused for quota: not charged')
        this.#applyCharge(event.jobId)
      } else if (RAN.has(event.status)) {
        quota.ran(event.jobId)
      }
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
      // Past the deadline the job is not charged (no-result) and the user's later vouchers leave
      // it out: a late report is refused, not stored, so it charges nothing and the agent knows
      // not to claim it (stored uncharged, every reader of `result` would need a second meaning).
      const resultBy = this.#resultBy(job)
      if (!resultInTime(resultBy, now)) {
        this.#applyCharge(report.jobId, now)
        throw new ApiError(
          410,
          ApiErrorCode.RESULT_TOO_LATE,
          `no result came before the job's deadline (${new Date(resultBy).toISOString()}): it is not charged`,
        )
      }
      this.#sql.exec(
        'UPDATE jobs SET result = ?, updated_at = ? WHERE job_id = ?',
        text,
        now,
        report.jobId,
      )
      this.#event(report.jobId, 'result_reported', 'runner', now, report.bundleCid)
      this.#quota().ran(report.jobId)
      this.#applyCharge(report.jobId)
      return { stored: true }
    })
  }

  /** A job's record and history, or null. */
  async job(jobId: string): Promise<JobView | null> {
    if (!this.#jobRow(jobId)) return null
    // A job past its deadline reads as decided even before the alarm fires.
    this.#applyCharge(jobId)
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
        job.run_id === null
          ? null
          : {
              id: this.#provider(this.#requireRegistration()).viewRunId(job.run_id as string),
              // A private service's project id names its project: kept for webhooks, never shown.
              projectId: isPrivateService(this.#requireRegistration().descriptor)
                ? null
                : ((job.project_id as number | null) ?? null),
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

  /**
   * What this service's jobs add up to, for its operator's view: every admitted job, those charged
   * (a result the user pays for), those still without a result, and those not charged. Public, like
   * each job's own view: it names no user and no job.
   */
  async summary(): Promise<{
    jobs: number
    charged: { jobs: number; amount: string }
    pending: { jobs: number; amount: string }
    notCharged: number
  }> {
    // Jobs past their result deadline count as not charged even before the alarm fires.
    this.#decideOverdue(Date.now())
    const rows = this.#sql
      .exec<{ amount: string | null; released_reason: string | null; has_result: number }>(
        `SELECT c.amount AS amount, c.released_reason AS released_reason,
                (j.result IS NOT NULL) AS has_result
           FROM jobs j LEFT JOIN charges c ON c.job_id = j.job_id`,
      )
      .toArray()
    const charged = { jobs: 0, amount: 0n }
    const pending = { jobs: 0, amount: 0n }
    let notCharged = 0
    for (const r of rows) {
      // Mirrors #chargeView: released is not charged; otherwise charged once a result is in.
      if (r.released_reason) notCharged++
      else if (r.has_result) {
        charged.jobs++
        charged.amount += BigInt(r.amount ?? '0')
      } else {
        pending.jobs++
        pending.amount += BigInt(r.amount ?? '0')
      }
    }
    return {
      jobs: rows.length,
      charged: { jobs: charged.jobs, amount: String(charged.amount) },
      pending: { jobs: pending.jobs, amount: String(pending.amount) },
      notCharged,
    }
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

/** The Worker's error code for each refusal of protocol's driver rule (all answered 422). */
const DRIVER_CODES: Record<DriverRefusalCode, ApiErrorCode> = {
  [DriverRefusal.UNKNOWN_SERVICE]: ApiErrorCode.DRIVER_UNKNOWN,
  [DriverRefusal.NOT_REGISTERED]: ApiErrorCode.DRIVER_NOT_REGISTERED,
  [DriverRefusal.UNAVAILABLE]: ApiErrorCode.DRIVER_UNAVAILABLE,
  [DriverRefusal.INTERFACE_MISMATCH]: ApiErrorCode.DRIVER_INTERFACE_MISMATCH,
}

/** A driver's facts as its own object's status() read them, for protocol's driver rule. */
function driverFactsOf(status: {
  registered: boolean
  descriptor: ServiceRegistration['descriptor'] | null
  availability: Availability | null
}): DriverFacts {
  const { availability } = status
  return {
    availability:
      availability === null
        ? null
        : availability.enabled
          ? { enabled: true }
          : { enabled: false, reason: availability.reason ?? ServiceUnavailable.UNKNOWN_SERVICE },
    registered: status.registered,
    descriptor: status.descriptor,
  }
}

/** Logs an unexpected error by kind only: a message could quote a secret-bearing value. */
function logUnexpected(what: string, error: unknown): void {
  console.error(`unexpected ${error instanceof Error ? error.name : typeof error} while ${what}`)
}

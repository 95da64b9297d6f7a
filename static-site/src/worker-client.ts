import {
  type Envelope,
  type NotChargedReason,
  RequestIdSchema,
  type ResultReport,
  type ServiceDescriptor,
  type SponsorshipGrant,
  type StatusQuery,
  statusQueryString,
} from '../../protocol/index.ts'
import { SiteError, SiteErrorCode } from './errors.ts'

/** `GET /v1/keys`: the Worker's HPKE public keys, the current one first. */
export interface WorkerKeys {
  suite: string
  kid: string
  publicKey: string
  keys: { kid: string; publicKey: string; current: boolean }[]
}

/** `GET /v1/services/:address`: whether the Worker takes jobs for a service, and why not. */
export interface WorkerServiceStatus {
  service: string
  enabled: boolean
  reason?: string
  registered: boolean
  /** True once the operator retired the version at the Worker. */
  retired?: boolean
  descriptor: ServiceDescriptor | null
  descriptorCid: string | null
  chain: {
    enabled: boolean
    reason?: string
    pricePerJob: string
    lastHeartbeatSlot: string
    currentSlot: string
    maxHeartbeatAgeSlots: string
    settledJobs: string
    /** `voucher` is the user's latest signed voucher: untrusted until checked (protocol's nextVoucher). */
    funding?: { deposit: string; owed: string; voucher?: unknown; released?: unknown }
  } | null
}

/** What a service status says about the user's funding, read defensively from any JSON. */
export interface ReportedFunding {
  /** The Worker's owed figure when it is a plain decimal below 2^64: shown, never signed. */
  owed: bigint | undefined
  /** The voucher the Worker returned, any shape: proven or not by protocol's nextVoucher. */
  voucher: unknown
  /**
   * The jobs the Worker says it released as not charged (why its `owed` is below the voucher),
   * only the well-formed entries, at most {@link MAX_RELEASED_SHOWN}: named to the user, never
   * signed on.
   */
  released: ReleasedCharge[]
}

/** A job the Worker released as not charged, as its status lists it. */
export interface ReleasedCharge {
  jobId: string
  amount: bigint
  /** A payable-rule reason code (protocol's NotChargedReason), or another short code as sent. */
  reason: string
}

/** Released jobs the page shows at most (the Worker lists 20). */
export const MAX_RELEASED_SHOWN = 20

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * The funding fields of a `GET /v1/services/:address?user=` answer. The Worker is not trusted:
 * any shape reads as no figure and no voucher rather than a throw or a number it made up.
 */
export function fundingOf(status: unknown): ReportedFunding {
  const chain = isRecord(status) ? status.chain : undefined
  const funding = isRecord(chain) ? chain.funding : undefined
  if (!isRecord(funding)) return { owed: undefined, voucher: undefined, released: [] }
  return {
    owed: amountOf(funding.owed),
    voucher: Object.hasOwn(funding, 'voucher') ? funding.voucher : undefined,
    released: releasedOf(funding.released),
  }
}

/** A plain decimal below 2^64, or undefined. */
function amountOf(x: unknown): bigint | undefined {
  return typeof x === 'string' && /^\d{1,20}$/.test(x) && BigInt(x) < 2n ** 64n
    ? BigInt(x)
    : undefined
}

function releasedOf(list: unknown): ReleasedCharge[] {
  if (!Array.isArray(list)) return []
  const out: ReleasedCharge[] = []
  for (const r of list.slice(0, MAX_RELEASED_SHOWN)) {
    if (!isRecord(r)) continue
    const amount = amountOf(r.amount)
    const { jobId, reason } = r
    if (
      amount === undefined ||
      typeof jobId !== 'string' ||
      !RequestIdSchema.safeParse(jobId).success ||
      typeof reason !== 'string' ||
      !/^[a-z][a-z-]{0,31}$/.test(reason)
    )
      continue
    out.push({ jobId, amount, reason })
  }
  return out
}

/** `GET /v1/services/:address/summary`: what a service's jobs add up to at the Worker. */
export interface WorkerServiceSummary {
  jobs: number
  charged: { jobs: number; amount: string }
  pending: { jobs: number; amount: string }
  notCharged: number
}

/** `POST /v1/jobs` answer: the job id (the request id) and where it stands. */
export interface SubmittedJob {
  jobId: string
  status: string
  pipelineId: number | string | null
}

/** `GET /v1/jobs/:id`: a job's status, history, pipeline and result report. */
export interface WorkerJob {
  jobId: string
  service: string
  user: string
  status: string
  createdAt: string
  updatedAt: string
  pipeline: { id: number | string; projectId: number | null; webUrl: string | null } | null
  history: { status: string; at: string; source: string; detail?: string }[]
  result: Omit<ResultReport, 'v' | 'jobId'> | null
  /** Whether the user pays for the job (protocol's payable rule); absent from older Workers. */
  charge?: JobCharge
  /** The voucher the job was admitted with (what the user signed for it); absent from older Workers. */
  voucher?: { cumulativeAmount: string; nonce: string } | null
}

/** A job's charge: pending until the job ends, then charged or not charged with the reason. */
export type JobCharge =
  | { state: 'pending' | 'charged'; amount: string }
  | { state: 'not-charged'; amount: '0'; reason: NotChargedReason }

/** Job statuses after which a job never changes again. */
export const TERMINAL_STATUSES = new Set([
  'success',
  'failed',
  'canceled',
  'skipped',
  'trigger_failed',
])

/** The edge oracle's HTTP API, as the page uses it (the only server the page needs besides Mina and IPFS). */
export class WorkerClient {
  constructor(
    readonly baseUrl: string,
    readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {}

  async #call<T>(path: string, init?: RequestInit): Promise<T> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`)
    let res: Response
    try {
      res = await this.fetchFn(url, init)
    } catch {
      throw new SiteError(
        SiteErrorCode.WORKER_UNAVAILABLE,
        `the Worker at ${url.origin} did not answer`,
      )
    }
    const body = (await res.json().catch(() => null)) as
      | (T & { error?: undefined })
      | { error?: { code?: string; message?: string } }
      | null
    if (!res.ok) {
      const error = body && 'error' in body ? body.error : undefined
      throw new SiteError(
        SiteErrorCode.WORKER_REFUSED,
        error?.message ?? `HTTP ${res.status}`,
        error?.code,
      )
    }
    return body as T
  }

  /** The HPKE keys requests may be sealed to. */
  keys(): Promise<WorkerKeys> {
    return this.#call('v1/keys')
  }

  /** A service's availability, with the user's funding when their signed status query is given. */
  service(address: string, query?: StatusQuery): Promise<WorkerServiceStatus> {
    const q = query ? statusQueryString(query) : ''
    return this.#call(`v1/services/${encodeURIComponent(address)}${q}`)
  }

  /** What a service's jobs add up to (admitted, charged, pending, not charged). */
  summary(address: string): Promise<WorkerServiceSummary> {
    return this.#call(`v1/services/${encodeURIComponent(address)}/summary`)
  }

  /** Posts a sealed job submission; the job starts without waiting for a block. */
  submit(envelope: Envelope): Promise<SubmittedJob> {
    return this.#call('v1/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    })
  }

  /** Offers a sponsor's signed grant for a service (its pool must already pay one job). */
  sponsor(
    address: string,
    grant: SponsorshipGrant,
  ): Promise<{ sponsor: string; vouchers: number }> {
    return this.#call(`v1/services/${encodeURIComponent(address)}/sponsorships`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(grant),
    })
  }

  /** A job's record. */
  job(jobId: string): Promise<WorkerJob> {
    return this.#call(`v1/jobs/${encodeURIComponent(jobId)}`)
  }
}

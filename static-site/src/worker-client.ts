import type {
  Envelope,
  NotChargedReason,
  ResultReport,
  ServiceDescriptor,
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
    funding?: { deposit: string; owed: string; voucher?: unknown }
  } | null
}

/** `POST /v1/jobs` answer: the job id (the request id) and where it stands. */
export interface SubmittedJob {
  jobId: string
  status: string
  pipelineId: number | null
}

/** `GET /v1/jobs/:id`: a job's status, history, pipeline and result report. */
export interface WorkerJob {
  jobId: string
  service: string
  user: string
  status: string
  createdAt: string
  updatedAt: string
  pipeline: { id: number; projectId: number | null; webUrl: string | null } | null
  history: { status: string; at: string; source: string; detail?: string }[]
  result: Omit<ResultReport, 'v' | 'jobId'> | null
  /** Whether the user pays for the job (protocol's payable rule); absent from older Workers. */
  charge?: JobCharge
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

  /** A service's availability, with `user`'s funding when given. */
  service(address: string, user?: string): Promise<WorkerServiceStatus> {
    const q = user ? `?user=${encodeURIComponent(user)}` : ''
    return this.#call(`v1/services/${encodeURIComponent(address)}${q}`)
  }

  /** Posts a sealed job submission; the job starts without waiting for a block. */
  submit(envelope: Envelope): Promise<SubmittedJob> {
    return this.#call('v1/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    })
  }

  /** A job's record. */
  job(jobId: string): Promise<WorkerJob> {
    return this.#call(`v1/jobs/${encodeURIComponent(jobId)}`)
  }
}

import { parseRetryAfter } from '../retry.ts'
import { parseExactJson } from './exact-json.ts'

/** A workflow run as `GET …/runs` lists it (the fields the Worker reads; ids as exact strings). */
export interface GithubRun {
  id: string
  display_title: string
  html_url: string | null
  repository_id: number | null
}

/** A job of a run as `GET …/runs/{id}/jobs` lists it (the fields the runner's signer reads). */
export interface GithubRunJob {
  id: string
  status: string
  /** The runner that picked the job up (null while it is queued). */
  runner_name: string | null
  /** Its runner's id (null while queued): unique, where names are only unique per repo/org. */
  runner_id: string | null
}

/** What one dispatch request came to. */
export type DispatchOutcome =
  /** 200 with `workflow_run_id` (return_run_details). */
  | { kind: 'created'; runId: string; htmlUrl: string | null }
  /** 204: dispatched, run id unknown (an older GitHub Enterprise): correlate by run-name. */
  | { kind: 'dispatched' }
  /** 4xx other than a rate limit: bad token, workflow, ref or inputs; no retry can help. */
  | { kind: 'rejected'; status: number }
  /** 403/429 rate limit: nothing was dispatched; wait `retryAfterMs` when GitHub said. */
  | { kind: 'rate-limited'; retryAfterMs: number | undefined }
  /** 5xx, timeout or network error: the run may or may not exist. */
  | { kind: 'ambiguous'; reason: string }

/** What a read came to. */
export type GithubRead<T> = { ok: true; value: T } | { ok: false; reason: string }

/** Options of a GithubClient. */
export interface GithubClientOptions {
  /** REST API base, e.g. https://api.github.com or https://ghe.example.com/api/v3. */
  apiUrl: string
  token: string
  timeoutMs?: number
  fetch?: typeof fetch
}

/** GitHub's documented wait after a secondary rate limit that names no time: at least a minute. */
const SECONDARY_LIMIT_WAIT_MS = 60_000

/** How long GitHub asks to wait, from `Retry-After` or an exhausted `x-ratelimit-reset` (epoch s). */
export function rateLimitWaitMs(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = parseRetryAfter(headers.get('retry-after'), now)
  if (retryAfter !== undefined) return retryAfter
  const reset = headers.get('x-ratelimit-reset')
  if (headers.get('x-ratelimit-remaining') === '0' && reset !== null && /^\d+$/.test(reset)) {
    return Math.max(0, Number(reset) * 1000 - now)
  }
  return undefined
}

/** Whether a 403/429 is a rate limit (primary or secondary) rather than a refusal. */
async function isRateLimit(res: Response): Promise<boolean> {
  if (res.status === 429) return true
  if (res.headers.get('retry-after') !== null) return true
  if (res.headers.get('x-ratelimit-remaining') === '0') return true
  // A secondary limit says so in its message only.
  const text = await res.text().catch(() => '')
  return /rate limit/i.test(text)
}

/**
 * Why a read failed: a rate limit says so (its own reason, so a caller can tell "wait" from
 * "refused"), anything else is its status.
 */
async function readFailure(res: Response): Promise<string> {
  if ((res.status === 403 || res.status === 429) && (await isRateLimit(res))) {
    const wait = rateLimitWaitMs(res.headers)
    return `rate-limited (HTTP ${res.status}${wait === undefined ? '' : `, retry in ${Math.ceil(wait / 1000)} s`})`
  }
  await res.body?.cancel().catch(() => {})
  return `HTTP ${res.status}`
}

/**
 * A typed client for the GitHub REST endpoints the Worker calls (worker/README.md lists them, so
 * the stand-in can match them). One HTTP request per call, classified: the retry loop and the
 * attempt records belong to the caller (ServiceObject).
 */
export class GithubClient {
  readonly #api: string
  readonly #token: string
  readonly #timeoutMs: number
  readonly #fetch: typeof fetch

  constructor(options: GithubClientOptions) {
    this.#api = options.apiUrl.replace(/\/+$/, '')
    this.#token = options.token
    this.#timeoutMs = options.timeoutMs ?? 8000
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init))
  }

  #headers(): Record<string, string> {
    return {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${this.#token}`,
      'x-github-api-version': '2022-11-28',
      'user-agent': 'zkrunner-worker',
    }
  }

  #workflow(repository: string, workflow: string): string {
    const [owner, repo] = repository.split('/') as [string, string]
    return `${this.#api}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions/workflows/${encodeURIComponent(workflow)}`
  }

  async #post(url: string, body: unknown): Promise<Response | Error> {
    try {
      return await this.#fetch(url, {
        method: 'POST',
        headers: { ...this.#headers(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (error) {
      return error instanceof Error ? error : new Error('network error')
    }
  }

  /**
   * `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with `ref`, `inputs` and
   * `return_run_details: true`. A server that refuses the field by name (older Enterprise, 400/422
   * naming it) dispatched nothing, so the same dispatch is sent once more without it (204).
   */
  async dispatch(input: {
    repository: string
    workflow: string
    ref: string
    inputs: Record<string, string>
  }): Promise<DispatchOutcome> {
    const url = `${this.#workflow(input.repository, input.workflow)}/dispatches`
    const body = { ref: input.ref, inputs: input.inputs }
    let res = await this.#post(url, { ...body, return_run_details: true })
    if (!(res instanceof Error) && (res.status === 400 || res.status === 422)) {
      const text = await res.text().catch(() => '')
      if (!/return_run_details/.test(text)) return { kind: 'rejected', status: res.status }
      res = await this.#post(url, body)
    }
    if (res instanceof Error) return { kind: 'ambiguous', reason: res.name }
    if (res.status === 204) return { kind: 'dispatched' }
    if (res.status === 200 || res.status === 201) {
      try {
        const answer = parseExactJson(await res.text()) as Record<string, unknown>
        const runId = answer.workflow_run_id
        if (typeof runId === 'string' && /^\d{1,20}$/.test(runId)) {
          const htmlUrl = typeof answer.html_url === 'string' ? answer.html_url : null
          return { kind: 'created', runId, htmlUrl }
        }
      } catch {
        // fall through: a success we cannot read is as good as unknown
      }
      return { kind: 'ambiguous', reason: 'unreadable success answer' }
    }
    if (res.status === 403 || res.status === 429) {
      const wait = rateLimitWaitMs(res.headers)
      if (await isRateLimit(res)) {
        return { kind: 'rate-limited', retryAfterMs: wait ?? SECONDARY_LIMIT_WAIT_MS }
      }
      return { kind: 'rejected', status: res.status }
    }
    await res.body?.cancel()
    if (res.status >= 500 || res.status === 408) {
      return { kind: 'ambiguous', reason: `HTTP ${res.status}` }
    }
    return { kind: 'rejected', status: res.status }
  }

  /**
   * `GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs?event=workflow_dispatch&branch=…
   * &created=>=…&per_page=100`: the newest dispatched runs of the workflow.
   */
  async listDispatchedRuns(input: {
    repository: string
    workflow: string
    ref: string
    createdAfter: Date
  }): Promise<GithubRead<GithubRun[]>> {
    const q = new URLSearchParams({
      event: 'workflow_dispatch',
      branch: input.ref,
      created: `>=${input.createdAfter.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
      per_page: '100',
    })
    let res: Response
    try {
      res = await this.#fetch(`${this.#workflow(input.repository, input.workflow)}/runs?${q}`, {
        headers: this.#headers(),
        // The token must reach the API host only: a redirect is a failure, never followed
        // (workerd has no redirect: 'error'; 'manual' hands the 3xx back, which is not ok).
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch {
      return { ok: false, reason: 'network error' }
    }
    if (!res.ok) return { ok: false, reason: await readFailure(res) }
    try {
      const answer = parseExactJson(await res.text()) as { workflow_runs?: unknown }
      if (!Array.isArray(answer.workflow_runs)) return { ok: false, reason: 'unreadable answer' }
      const runs: GithubRun[] = []
      for (const r of answer.workflow_runs as Record<string, unknown>[]) {
        if (typeof r?.id !== 'string' || typeof r.display_title !== 'string') continue
        const repo = r.repository as { id?: unknown } | undefined
        runs.push({
          id: r.id,
          display_title: r.display_title,
          html_url: typeof r.html_url === 'string' ? r.html_url : null,
          repository_id: typeof repo?.id === 'string' ? Number(repo.id) : null,
        })
      }
      return { ok: true, value: runs }
    } catch {
      return { ok: false, reason: 'unreadable answer' }
    }
  }

  /** One GET of the API, parsed with exact ids; any failure is a reason, never a guess. */
  async #get(path: string): Promise<GithubRead<unknown>> {
    let res: Response
    try {
      res = await this.#fetch(`${this.#api}${path}`, {
        headers: this.#headers(),
        // The token must reach the API host only: a redirect is a failure, never followed
        // (workerd has no redirect: 'error'; 'manual' hands the 3xx back, which is not ok).
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch {
      return { ok: false, reason: 'network error' }
    }
    if (!res.ok) return { ok: false, reason: await readFailure(res) }
    try {
      return { ok: true, value: parseExactJson(await res.text()) }
    } catch {
      return { ok: false, reason: 'unreadable answer' }
    }
  }

  #repo(repository: string): string {
    const [owner, repo] = repository.split('/') as [string, string]
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`
  }

  /** `GET /repos/{owner}/{repo}/actions/runs/{run_id}`: the run's id, display title and status. */
  async getRun(input: {
    repository: string
    runId: string
  }): Promise<GithubRead<{ id: string; display_title: string; status: string }>> {
    const read = await this.#get(`${this.#repo(input.repository)}/actions/runs/${input.runId}`)
    if (!read.ok) return read
    const r = read.value as Record<string, unknown> | null
    if (
      typeof r?.id !== 'string' ||
      typeof r.display_title !== 'string' ||
      typeof r.status !== 'string'
    )
      return { ok: false, reason: 'unreadable answer' }
    return { ok: true, value: { id: r.id, display_title: r.display_title, status: r.status } }
  }

  /**
   * `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?filter=latest&per_page=100`: the run's
   * jobs with their status and the runner each was picked up by.
   */
  async listRunJobs(input: {
    repository: string
    runId: string
  }): Promise<GithubRead<GithubRunJob[]>> {
    const read = await this.#get(
      `${this.#repo(input.repository)}/actions/runs/${input.runId}/jobs?filter=latest&per_page=100`,
    )
    if (!read.ok) return read
    const jobs = (read.value as { jobs?: unknown } | null)?.jobs
    if (!Array.isArray(jobs)) return { ok: false, reason: 'unreadable answer' }
    const out: GithubRunJob[] = []
    for (const j of jobs as Record<string, unknown>[]) {
      if (typeof j?.id !== 'string' || typeof j.status !== 'string')
        return { ok: false, reason: 'unreadable answer' }
      out.push({
        id: j.id,
        status: j.status,
        runner_name: typeof j.runner_name === 'string' ? j.runner_name : null,
        // parseExactJson keeps ids as strings (exact past 2^53).
        runner_id:
          typeof j.runner_id === 'string' || typeof j.runner_id === 'number'
            ? String(j.runner_id)
            : null,
      })
    }
    return { ok: true, value: out }
  }
}

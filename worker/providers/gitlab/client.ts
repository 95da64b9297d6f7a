import { parseRetryAfter } from '../retry.ts'

/** GitLab's pipeline object (the fields the Worker reads), as `POST /projects/:id/trigger/pipeline` answers it. */
export interface GitlabPipeline {
  id: number
  iid?: number
  project_id: number
  sha?: string
  ref: string
  status: string
  source?: string
  web_url?: string
  created_at?: string
  updated_at?: string
}

/** A pipeline variable as `GET /projects/:id/pipelines/:pid/variables` answers it. */
export interface GitlabVariable {
  key: string
  value: string
  variable_type?: string
}

/**
 * A job of a pipeline as `GET /projects/:id/pipelines/:pid/jobs` lists it (the fields the runner's
 * signer reads): its status and the runner that picked it (null until one did).
 */
export interface GitlabJob {
  id: number
  status: string
  runner: { id: number; description?: string | null } | null
  /** The job's pipeline (in `GET /runners/:id/jobs`, which lists jobs of many projects). */
  pipeline?: { id: number; project_id: number }
}

/** What one trigger request came to. */
export type GitlabTriggerOutcome =
  /** GitLab created the pipeline. */
  | { kind: 'created'; pipeline: GitlabPipeline }
  /** GitLab refused it (bad token, unknown project or ref): no retry can help. */
  | { kind: 'rejected'; status: number }
  /** 429: nothing was created; wait `retryAfterMs` if GitLab said how long. */
  | { kind: 'rate-limited'; retryAfterMs: number | undefined }
  /** 5xx, timeout or network error: the pipeline may or may not exist. */
  | { kind: 'ambiguous'; reason: string }

/** What a read came to: data, or a failure that may go away (`retryAfterMs`), or not. */
export type ReadOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; retryable: boolean; retryAfterMs: number | undefined; reason: string }

/** Options of a GitlabClient. */
export interface GitlabClientOptions {
  /** GitLab base URL, e.g. https://gitlab.com (the API is under /api/v4). */
  baseUrl: string
  /** Per-request timeout. */
  timeoutMs?: number
  fetch?: typeof fetch
}

/**
 * A trigger variable's value as GitLab must receive it to pass it through literally. GitLab
 * expands `$NAME` and `${NAME}` in pipeline variables, and the trigger API has no raw/`expand:
 * false` option (gitlab-org/gitlab#362539); `$$` is the documented escape for a literal `$`.
 * Without this a user's `$CI_JOB_TOKEN` parameter would reach the job as the job's token.
 */
export const escapeVariableValue = (value: string): string => value.replaceAll('$', '$$$$')

/**
 * A typed client for the few GitLab REST endpoints the Worker calls. It makes exactly one HTTP
 * request per call and classifies the outcome: the retry loop belongs to the caller, which must
 * record each trigger attempt before it is made (see ServiceObject).
 */
export class GitlabClient {
  readonly #api: string
  readonly #timeoutMs: number
  readonly #fetch: typeof fetch

  constructor(options: GitlabClientOptions) {
    this.#api = `${options.baseUrl.replace(/\/+$/, '')}/api/v4`
    this.#timeoutMs = options.timeoutMs ?? 8000
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init))
  }

  #project(project: string): string {
    return `${this.#api}/projects/${encodeURIComponent(project)}`
  }

  /** `POST /projects/:id/trigger/pipeline` with a trigger token, a ref and variables. */
  async triggerPipeline(input: {
    project: string
    token: string
    ref: string
    variables: Record<string, string>
  }): Promise<GitlabTriggerOutcome> {
    const form = new URLSearchParams({ token: input.token, ref: input.ref })
    for (const [key, value] of Object.entries(input.variables))
      form.append(`variables[${key}]`, escapeVariableValue(value))
    let res: Response
    try {
      res = await this.#fetch(`${this.#project(input.project)}/trigger/pipeline`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        // The form carries the trigger token: a 3xx is a refusal, not followed.
        body: form,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (error) {
      return { kind: 'ambiguous', reason: error instanceof Error ? error.name : 'network error' }
    }
    if (res.status === 201 || res.status === 200) {
      try {
        const pipeline = (await res.json()) as GitlabPipeline
        if (typeof pipeline.id === 'number') return { kind: 'created', pipeline }
      } catch {
        // fall through: a success we cannot read is as good as unknown
      }
      return { kind: 'ambiguous', reason: 'unreadable success answer' }
    }
    await res.body?.cancel()
    if (res.status === 429) {
      return { kind: 'rate-limited', retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) }
    }
    if (res.status >= 500 || res.status === 408) {
      return { kind: 'ambiguous', reason: `HTTP ${res.status}` }
    }
    return { kind: 'rejected', status: res.status }
  }

  async #read<T>(url: string, apiToken: string): Promise<ReadOutcome<T>> {
    let res: Response
    try {
      res = await this.#fetch(url, {
        headers: { 'private-token': apiToken, accept: 'application/json' },
        // A redirect would carry private-token to wherever it points (fetch drops only
        // authorization across origins): never followed, the 3xx is a failure (workerd has no
        // redirect: 'error').
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch {
      return { ok: false, retryable: true, retryAfterMs: undefined, reason: 'network error' }
    }
    if (res.ok) {
      try {
        return { ok: true, value: (await res.json()) as T }
      } catch {
        return { ok: false, retryable: true, retryAfterMs: undefined, reason: 'unreadable answer' }
      }
    }
    await res.body?.cancel()
    const retryable = res.status === 429 || res.status >= 500
    return {
      ok: false,
      retryable,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      // A rate limit has its own reason: the caller can tell "wait" from "refused".
      reason:
        res.status === 429 || (res.status === 403 && res.headers.get('ratelimit-remaining') === '0')
          ? `rate-limited (HTTP ${res.status})`
          : `HTTP ${res.status}`,
    }
  }

  /** `GET /projects/:id/pipelines?source=trigger&updated_after=…`: recent triggered pipelines, newest first. */
  listTriggeredPipelines(input: {
    project: string
    apiToken: string
    ref: string
    updatedAfter: Date
  }): Promise<ReadOutcome<GitlabPipeline[]>> {
    const q = new URLSearchParams({
      source: 'trigger',
      ref: input.ref,
      updated_after: input.updatedAfter.toISOString(),
      order_by: 'id',
      sort: 'desc',
      per_page: '100',
    })
    return this.#read(`${this.#project(input.project)}/pipelines?${q}`, input.apiToken)
  }

  /** `GET /projects/:id/pipelines/:pid/variables`. */
  pipelineVariables(input: {
    project: string
    apiToken: string
    pipelineId: number
  }): Promise<ReadOutcome<GitlabVariable[]>> {
    return this.#read(
      `${this.#project(input.project)}/pipelines/${input.pipelineId}/variables`,
      input.apiToken,
    )
  }

  /**
   * `GET /projects/:id/pipelines/:pid/jobs`: the pipeline's jobs with their status and runner
   * (read by the runner's signer: is this job running on this runner now?).
   */
  pipelineJobs(input: {
    project: string
    apiToken: string
    pipelineId: number
  }): Promise<ReadOutcome<GitlabJob[]>> {
    return this.#read(
      `${this.#project(input.project)}/pipelines/${input.pipelineId}/jobs?per_page=100`,
      input.apiToken,
    )
  }

  /**
   * `GET /runners/:id/jobs?status=running`: the jobs this runner is running now, in the projects
   * the token can read (read by the runner's signer: is the named job the only one?).
   */
  runnerJobs(input: {
    runnerId: string
    apiToken: string
    status: 'running'
  }): Promise<ReadOutcome<GitlabJob[]>> {
    const q = new URLSearchParams({ status: input.status, per_page: '100' })
    return this.#read(
      `${this.#api}/runners/${encodeURIComponent(input.runnerId)}/jobs?${q}`,
      input.apiToken,
    )
  }
}

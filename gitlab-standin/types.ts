/** One project the stand-in serves, with the tokens that may act on it. */
export interface StandinProject {
  /** Numeric project id (`/projects/:id`); the URL-encoded `path` is accepted too. */
  id: number
  /** `namespace/name`; defaults to `zkrunner/project-<id>`. */
  path?: string
  /** Pipeline trigger tokens accepted by `POST /projects/:id/trigger/pipeline`. */
  triggerTokens: string[]
  /** Personal or project access tokens (`PRIVATE-TOKEN` header) accepted by the read endpoints. */
  accessTokens?: string[]
  /** The commit SHA every ref resolves to (the stand-in has no repository). */
  sha?: string
  /** Name of the single job each pipeline runs; defaults to `zkrunner`. */
  jobName?: string
  /** This project's webhook secret (`X-Gitlab-Token`); defaults to the stand-in's `webhookSecret`. */
  webhookSecret?: string
}

/** A scripted failure for the next matching request. */
export type Fault =
  /** Answer with this 5xx status; with `created` the pipeline is created first (an ambiguous failure). */
  | { status: 500 | 502 | 503 | 504; created?: boolean }
  /** Answer 429 with `Retry-After: retryAfter` (seconds); nothing is created. */
  | { status: 429; retryAfter: number }
  /** Hold the response for `hangMs` before answering normally; with `created` (default) the pipeline exists at once. */
  | { hangMs: number; created?: boolean }

/** Queues of faults, consumed one per request, for each endpoint group. */
export interface Faults {
  /** `POST /projects/:id/trigger/pipeline`. */
  trigger?: Fault[]
  /** `GET /projects/:id/pipelines` and the pipeline read endpoints. */
  read?: Fault[]
  /**
   * How many of the next pipelines' jobs GitLab refuses for quota: the job goes from pending to
   * failed with `failure_reason` `ci_quota_exceeded`, and no runner ever sees it.
   */
  quota?: number
}

/** GitLab's pipeline and job status values (subset the stand-in produces). */
export type GitlabStatus = 'created' | 'pending' | 'running' | 'success' | 'failed' | 'canceled'

/** A pipeline variable as `GET /projects/:id/pipelines/:pid/variables` returns it. */
export interface PipelineVariable {
  variable_type: 'env_var' | 'file'
  key: string
  value: string
  raw: boolean
}

/** A job (GitLab "build") of a stand-in pipeline. */
export interface StandinJob {
  id: number
  name: string
  stage: string
  status: GitlabStatus
  created_at: string
  started_at: string | null
  finished_at: string | null
  trace: string
  /** Why a failed job failed (GitLab's `failure_reason`); `script_failure` when not set. */
  failure_reason?: string
}

/** A pipeline as the stand-in records it. */
export interface StandinPipeline {
  id: number
  iid: number
  project_id: number
  ref: string
  sha: string
  status: GitlabStatus
  source: 'trigger'
  created_at: string
  updated_at: string
  started_at: string | null
  finished_at: string | null
  variables: PipelineVariable[]
  jobs: StandinJob[]
}

/** What `runJob` is given: the pipeline and the job to run, and the variables as the job sees them (expanded). */
export interface RunJobContext {
  project: StandinProject
  pipeline: StandinPipeline
  job: StandinJob
  variables: Record<string, string>
}

/** What `runJob` answers: the job's final status and its log. */
export interface RunJobOutcome {
  status: 'success' | 'failed'
  trace?: string
}

/** Options of `startGitlabStandin`. */
export interface GitlabStandinOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number
  /** Host to bind; loopback by default. */
  host?: string
  /** Where to POST the pipeline and job webhooks; none are sent without it. */
  webhookUrl?: string
  /** Secret sent as `X-Gitlab-Token` with the webhooks of projects that set none of their own. */
  webhookSecret?: string
  /** The projects served. */
  projects: StandinProject[]
  /** Scripted failures; replace them later with `setFaults`. */
  faults?: Faults
  /** Runs a job (the local stack runs the job script through the runner agent); default: succeed at once. */
  runJob?: (context: RunJobContext) => Promise<RunJobOutcome>
  /** Serve `POST /__standin/faults` and `GET /__standin/pipelines` for tests in another process. */
  control?: boolean
  /** Whether triggered pipelines run (pending → running → success/failed); default true. */
  autoRun?: boolean
  /** The runner that picks up every job (`runner` of the jobs API); default id 1, `zkrunner-standin`. */
  runner?: { id: number; description: string }
}

/** A running stand-in. */
export interface GitlabStandin {
  /** Base URL, e.g. `http://127.0.0.1:8929` (the API is under `/api/v4`). */
  url: string
  /** Every pipeline created so far, in creation order (live). */
  pipelines: StandinPipeline[]
  /** Number of `trigger/pipeline` requests received (including failed ones). */
  triggerRequests(): number
  /** Replaces the fault queues. */
  setFaults(faults: Faults): void
  /** Resolves when every started pipeline has finished and its webhooks were sent. */
  idle(): Promise<void>
  /** Stops listening and drops open connections. */
  close(): Promise<void>
}

/** A `workflow_dispatch` input a workflow declares (`on.workflow_dispatch.inputs`). */
export interface StandinInput {
  required?: boolean
  default?: string
}

/** One workflow of a repository: what GitHub reads from `.github/workflows/<file>`. */
export interface StandinWorkflow {
  /** Numeric workflow id; `/actions/workflows/{id}` also takes the file name. */
  id: number
  /** File name under `.github/workflows/`, e.g. `zkrunner.yml`. */
  file: string
  /** The workflow's `name:` (GITHUB_WORKFLOW, `workflow_run.name`). */
  name: string
  /** The workflow's `run-name:` template (`zkrunner ${{ inputs.ZKRUNNER_JOB_ID }}`); the name when absent. */
  runName?: string
  /** Declared inputs: GitHub refuses a dispatch with any other (422). */
  inputs: Record<string, StandinInput>
  /** The first job's id (`jobs.<id>`), its GITHUB_JOB and `workflow_job.name`. */
  jobName: string
}

/** One repository the stand-in serves, with the tokens that may act on it. */
export interface StandinRepo {
  /** Numeric repository id (`repository.id` in runs and webhooks); default 1. */
  id?: number
  owner: string
  name: string
  /** Bearer tokens (fine-grained or installation) accepted for this repository. */
  tokens: string[]
  workflows: StandinWorkflow[]
  /** Refs a dispatch may name (`main`, `v1.0.0`); default `[defaultBranch]`. */
  refs?: string[]
  defaultBranch?: string
  /** The commit every ref resolves to (the stand-in has no repository of its own). */
  sha?: string
  /** This repository's webhook secret; defaults to the stand-in's `webhookSecret`. */
  webhookSecret?: string
}

/**
 * How `POST …/dispatches` answers `return_run_details`: `run-details` is github.com since 2026-02
 * (200 with the run's id when asked, else 204); `no-content` is a server that ignores the field
 * (204 always); `reject-field` is an older GitHub Enterprise Server that refuses it (422).
 */
export type DispatchAnswer = 'run-details' | 'no-content' | 'reject-field'

/** A scripted failure for the next matching request. */
export type Fault =
  /** Answer with this 5xx status; with `created` the run is created first (an ambiguous failure). */
  | { status: 500 | 502 | 503 | 504; created?: boolean }
  /** Secondary rate limit: 403 (or 429) with `Retry-After: retryAfter` seconds; nothing is created. */
  | { status: 403 | 429; retryAfter: number }
  /** Primary rate limit: 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` `resetIn` s ahead. */
  | { status: 403; resetIn: number }
  /** Hold the response `hangMs`, then 504; with `created` (default) the run exists at once. */
  | { hangMs: number; created?: boolean }

/** Queues of faults, consumed one per request, for each endpoint group. */
export interface Faults {
  /** `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches`. */
  dispatch?: Fault[]
  /** The `GET …/actions/runs…` endpoints. */
  read?: Fault[]
}

export type RunStatus = 'queued' | 'in_progress' | 'completed'
export type RunConclusion = 'success' | 'failure' | 'cancelled' | null

/** A job of a stand-in run. */
export interface StandinJob {
  id: number
  name: string
  status: RunStatus
  conclusion: RunConclusion
  created_at: string
  started_at: string | null
  completed_at: string | null
  log: string
}

/** A workflow run as the stand-in records it. */
export interface StandinRun {
  id: number
  run_number: number
  run_attempt: number
  owner: string
  repo: string
  workflow_id: number
  /** The workflow's name. */
  name: string
  /** The rendered `run-name`. */
  display_title: string
  event: 'workflow_dispatch'
  head_branch: string
  head_sha: string
  path: string
  status: RunStatus
  conclusion: RunConclusion
  created_at: string
  updated_at: string
  run_started_at: string | null
  /** The dispatch inputs, declared defaults filled in (in the event file, not in `workflow_run`). */
  inputs: Record<string, string>
  jobs: StandinJob[]
}

/** What `runJob` is given: the run, its workflow and the dispatch event as the runner writes it. */
export interface RunJobContext {
  repo: StandinRepo
  workflow: StandinWorkflow
  run: StandinRun
  job: StandinJob
  /** The `workflow_dispatch` event payload for `GITHUB_EVENT_PATH`. */
  event: Record<string, unknown>
  /** The stand-in's base URL (GITHUB_SERVER_URL; the API is there and under `/api/v3`). */
  serverUrl: string
}

/** What `runJob` answers: the job's conclusion and its log. */
export interface RunJobOutcome {
  conclusion: 'success' | 'failure'
  log?: string
}

/** Options of `startGithubStandin`. */
export interface GithubStandinOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number
  /** Host to bind; loopback by default. */
  host?: string
  /** Where to POST `workflow_run` / `workflow_job` webhooks; none are sent without it. */
  webhookUrl?: string
  /** Secret for `X-Hub-Signature-256` of repositories that set none of their own. */
  webhookSecret?: string
  repos: StandinRepo[]
  /** How a dispatch answers `return_run_details` (default `run-details`); change with `setDispatchAnswer`. */
  dispatchAnswer?: DispatchAnswer
  faults?: Faults
  /** Runs a job (the stack runs the workflow through the agent as a self-hosted runner); default: succeed. */
  runJob?: (context: RunJobContext) => Promise<RunJobOutcome>
  /** Serve `POST /__standin/faults`, `/__standin/dispatch-answer` and `GET /__standin/runs`. */
  control?: boolean
  /** Whether dispatched runs run (queued → in_progress → completed); default true. */
  autoRun?: boolean
  /** `runner_name` of the self-hosted runner that picks up every job; default `zkrunner-standin`. */
  runnerName?: string
  /**
   * Jobs the runner takes at once, as a self-hosted runner takes one: a run waits `queued` until
   * one is free. Default: no limit.
   */
  runnerSlots?: number
}

/** One webhook delivery as sent (kept for redelivery, which reuses the delivery id). */
export interface Delivery {
  id: string
  event: 'workflow_run' | 'workflow_job'
  action: string
  body: string
  repo: StandinRepo
}

/** A running stand-in. */
export interface GithubStandin {
  /** Base URL, e.g. `http://127.0.0.1:8930`: the web origin; the API is at `/` and `/api/v3`. */
  url: string
  /** Every run created so far, in creation order (live). */
  runs: StandinRun[]
  /** Every webhook delivery sent, in order. */
  deliveries: Delivery[]
  /** Number of dispatch requests received (including failed ones). */
  dispatchRequests(): number
  setFaults(faults: Faults): void
  setDispatchAnswer(answer: DispatchAnswer): void
  /** Sends a delivery again with its `X-GitHub-Delivery`, as "Redeliver" does; resolves to the HTTP status. */
  redeliver(id: string): Promise<number | null>
  /** Resolves when every started run has finished and its webhooks were sent. */
  idle(): Promise<void>
  close(): Promise<void>
}

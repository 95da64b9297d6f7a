import { z } from 'zod'
import { GithubClient } from '../../worker/providers/github/client.ts'
import { runNameOf } from '../../worker/providers/github/run-name.ts'
import { GitlabClient } from '../../worker/providers/gitlab/client.ts'
import type { AgentConfig } from '../config.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'

/** How long the signer waits for the Worker or the provider before it refuses. */
const LOOKUP_TIMEOUT_MS = 8000

/**
 * How long a verdict on one job stands: asking again within it (a job looping `run --signer`,
 * or naming another job's public id) makes no new Worker or provider read, so no caller can spend
 * the shared read token's rate limit and have every job on the runner refused. A refusal is not
 * kept: anyone may name any job, and a refusal earned by naming job B while B is not yet running
 * must not stand against B's own ask a moment later.
 */
const VERDICT_OK_MS = 30_000
/** Verdicts kept at most (oldest dropped first): the cache cannot grow without end. */
const MAX_VERDICTS = 1024

/** Verdicts on jobs, each standing a short while; the signer keeps one for its whole life. */
export class BindingVerdicts {
  readonly #held = new Map<string, { until: number }>()

  /**
   * The standing verdict for `key`, or a new one from `check`. Only a pass stands; asks at the
   * same moment each check (a refusal or a check in flight is never handed to another ask).
   */
  get(key: string, check: () => Promise<void>): Promise<void> {
    const now = Date.now()
    const cached = this.#held.get(key)
    if (cached && cached.until > now) return Promise.resolve()
    for (const [k, v] of this.#held) if (v.until <= now) this.#held.delete(k)
    return check().then(() => {
      while (this.#held.size >= MAX_VERDICTS)
        this.#held.delete(this.#held.keys().next().value as string)
      this.#held.set(key, { until: Date.now() + VERDICT_OK_MS })
    })
  }
}

const processVerdicts = new BindingVerdicts()

/**
 * What the signer checks a job against before it runs it: the Worker that dispatched it and the
 * provider whose runner is running it. Everything a caller sends (its variables, its event file)
 * is written by the job's own user, so neither answer is taken from the caller.
 */
export interface SignerBinding {
  workerUrl: string
  provider: 'github' | 'gitlab'
  /** GitHub's REST base, or GitLab's base URL (the API is under /api/v4). */
  apiUrl: string
  /** The signer's read token: sent to `apiUrl` only, never to a job. */
  token: string
  /** This runner as the provider names it: GitHub's `runner_name`, GitLab's runner id. */
  runner: string
  /** GitHub only, when known: this runner's `runner_id` (names are not unique across repos). */
  runnerId?: string
  /**
   * The projects this runner serves (GitHub `owner/repo`, GitLab project ids): a job of any
   * other project is refused. A runner of the same name elsewhere cannot have its job signed.
   */
  servedProjects: readonly string[]
}

/** The signer's binding from its configuration; a signer without one does not start. */
export function signerBinding(config: AgentConfig): SignerBinding {
  const { provider, providerApiUrl, providerToken, runnerName, runnerId } = config
  if (!provider || !providerApiUrl || !providerToken || !runnerName || !config.servedProjects)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      'the signer checks every job with the provider before it runs it: set provider (github or gitlab), providerApiUrl, providerToken (a read token), runnerName (this runner: its GitHub name, or its GitLab runner id) and servedProjects (the projects this runner serves: GitHub owner/repo, GitLab project ids, comma-separated)',
    )
  const servedProjects = config.servedProjects
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
  const shape = provider === 'github' ? /^[\w.-]+\/[\w.-]+$/ : /^\d{1,12}$/
  const bad = servedProjects.find((p) => !shape.test(p))
  if (servedProjects.length === 0 || bad !== undefined)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `servedProjects: ${provider === 'github' ? 'GitHub owner/repo names' : 'GitLab project ids (numbers)'}, comma-separated${bad === undefined ? '' : `; not one: ${JSON.stringify(bad).slice(0, 80)}`}`,
    )
  if (runnerId !== undefined && provider !== 'github')
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      'runnerId is for GitHub (runner_id); on GitLab runnerName is already the runner id',
    )
  if (provider === 'gitlab' && !/^\d{1,12}$/.test(runnerName))
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      'runnerName: on GitLab, the runner id (a number, as GET /runners/:id names it)',
    )
  return {
    workerUrl: config.workerUrl,
    provider,
    apiUrl: providerApiUrl,
    token: providerToken,
    runner: runnerName,
    ...(runnerId === undefined ? {} : { runnerId }),
    servedProjects,
  }
}

/** `GET /v1/jobs/:id` as the signer reads it (worker/README: the fields it needs). */
const WorkerJobSchema = z.object({
  jobId: z.string(),
  service: z.string(),
  user: z.string(),
  status: z.string(),
  createdAt: z.iso.datetime({ offset: true }),
  pipeline: z
    .object({
      id: z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}$/)]),
      projectId: z.number().int().nonnegative().nullable(),
    })
    .nullable(),
  result: z.unknown(),
})

/** `GET /v1/services/:address` as the signer reads it: where the service's runs are. */
const WorkerServiceSchema = z.object({
  service: z.string(),
  descriptor: z.object({
    provider: z.enum(['github', 'gitlab']),
    project: z.string().min(1),
    ref: z.string().min(1),
    workflow: z.string().optional(),
    sourceCommitment: z.string(),
  }),
})

/** Statuses of a job that was never handed to the provider, or whose run is over. */
const NOT_RUNNING = new Set([
  'queued',
  'trigger_failed',
  'success',
  'failed',
  'canceled',
  'skipped',
])

/**
 * Why a provider read gave no answer. A rate limit is said as such: the job is not refused for
 * what it is, the runner's read token is spent for now (another job's loop cannot spend it: asks
 * are cached, see VERDICT_OK_MS).
 */
const unanswered = (what: string, reason: string) =>
  reason.startsWith('rate-limited')
    ? `the provider has rate-limited the signer's read token (${what}: ${reason}); ask again later`
    : `${what} (${reason})`

const refuse = (jobId: string, why: string) =>
  new AgentError(AgentErrorCode.SIGNER_REFUSED, `job ${jobId}: ${why}; nothing was run or signed`)

async function workerGet<T>(
  binding: SignerBinding,
  path: string,
  schema: z.ZodType<T>,
  jobId: string,
): Promise<T> {
  const url = `${binding.workerUrl.replace(/\/+$/, '')}${path}`
  let res: Response
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
    })
  } catch (e) {
    throw refuse(
      jobId,
      `cannot ask the Worker (${(e as Error).name}) whether it dispatched the job`,
    )
  }
  if (res.status === 404) {
    await res.body?.cancel()
    throw refuse(jobId, 'the Worker never dispatched it (404)')
  }
  if (!res.ok) {
    await res.body?.cancel()
    throw refuse(jobId, `the Worker did not answer for it (HTTP ${res.status})`)
  }
  const parsed = schema.safeParse(await res.json().catch(() => undefined))
  if (!parsed.success) throw refuse(jobId, `the Worker's answer for ${path} is unreadable`)
  return parsed.data
}

/**
 * Refuses (`SIGNER_REFUSED`) unless `job` is a job the Worker dispatched for this service and
 * user, with no result yet, whose provider run is in progress on this runner now. A job running
 * here can then only have itself signed: naming another job's id (public on GitHub) gets nothing.
 */
export function checkJobBinding(
  binding: SignerBinding,
  job: { jobId: string; service: string; user: string; sourceCommitment: string },
  verdicts: BindingVerdicts = processVerdicts,
): Promise<void> {
  // The whole question, not only the id: another service, user or runner is another verdict.
  const key = JSON.stringify([
    binding.workerUrl,
    binding.provider,
    binding.apiUrl,
    binding.runner,
    binding.runnerId ?? '',
    binding.servedProjects,
    job.jobId,
    job.service,
    job.user,
    job.sourceCommitment,
  ])
  return verdicts.get(key, () => checkOnce(binding, job))
}

async function checkOnce(
  binding: SignerBinding,
  job: { jobId: string; service: string; user: string; sourceCommitment: string },
): Promise<void> {
  const { jobId } = job
  const held = await workerGet(binding, `/v1/jobs/${jobId}`, WorkerJobSchema, jobId)
  if (held.jobId !== jobId || held.service !== job.service || held.user !== job.user)
    throw refuse(jobId, 'the Worker dispatched it for another service or user')
  if (NOT_RUNNING.has(held.status))
    throw refuse(jobId, `the Worker says it is ${held.status}, not dispatched and running`)
  if (held.result !== null) throw refuse(jobId, 'the Worker already holds its result')
  const { descriptor } = await workerGet(
    binding,
    `/v1/services/${job.service}`,
    WorkerServiceSchema,
    jobId,
  )
  if (descriptor.provider !== binding.provider)
    throw refuse(
      jobId,
      `its service runs on ${descriptor.provider}, this signer's runner on ${binding.provider}`,
    )
  if (descriptor.sourceCommitment !== job.sourceCommitment)
    throw refuse(jobId, "the source commitment is not its service's")
  // The project asked about must be one this runner serves: a runner named like this one in
  // another repository (GitHub keeps names unique per repository or organisation only) runs
  // jobs this signer must never sign. GitLab: the project the Worker recorded the pipeline in.
  const project =
    binding.provider === 'gitlab' && held.pipeline?.projectId != null
      ? String(held.pipeline.projectId)
      : descriptor.project
  if ((binding.provider === 'github' || held.pipeline) && !served(binding, project))
    throw refuse(jobId, `its project ${project} is not one this signer's runner serves`)
  const where =
    binding.provider === 'github'
      ? await githubRunner(binding, descriptor, held)
      : await gitlabRunner(binding, descriptor, held)
  if (where !== 'here') throw refuse(jobId, where)
}

/** Whether `project` is in the served list (GitHub names match case-insensitively, as GitHub does). */
function served(binding: SignerBinding, project: string): boolean {
  const list = binding.servedProjects ?? []
  return binding.provider === 'github'
    ? list.some((p) => p.toLowerCase() === project.toLowerCase())
    : list.includes(project)
}

/** 'here' when the job's run has a job in progress on this runner; else why not. */
async function githubRunner(
  binding: SignerBinding,
  descriptor: z.infer<typeof WorkerServiceSchema>['descriptor'],
  held: z.infer<typeof WorkerJobSchema>,
): Promise<string> {
  const client = new GithubClient({
    apiUrl: binding.apiUrl,
    token: binding.token,
    timeoutMs: LOOKUP_TIMEOUT_MS,
  })
  const repository = descriptor.project
  const title = runNameOf(held.jobId)
  let runId: string
  if (held.pipeline) {
    runId = String(held.pipeline.id)
    const run = await client.getRun({ repository, runId })
    if (!run.ok) return unanswered(`GitHub did not answer for run ${runId}`, run.reason)
    if (run.value.display_title !== title) return `GitHub's run ${runId} is not "${title}"`
  } else {
    // Dispatched, but the Worker has not learnt the run yet: found by its run-name, as it would.
    if (!descriptor.workflow) return 'its service names no workflow'
    const listed = await client.listDispatchedRuns({
      repository,
      workflow: descriptor.workflow,
      ref: descriptor.ref,
      createdAfter: new Date(Date.parse(held.createdAt) - 60_000),
    })
    if (!listed.ok) return unanswered('GitHub did not list the runs', listed.reason)
    const run = listed.value.find((r) => r.display_title === title)
    if (!run) return `GitHub lists no run "${title}"`
    runId = run.id
  }
  const jobs = await client.listRunJobs({ repository, runId })
  if (!jobs.ok) return unanswered(`GitHub did not list run ${runId}'s jobs`, jobs.reason)
  return jobs.value.some(
    (j) =>
      j.status === 'in_progress' &&
      j.runner_name === binding.runner &&
      (binding.runnerId === undefined || j.runner_id === binding.runnerId),
  )
    ? 'here'
    : `GitHub's run ${runId} has no job in progress on runner ${binding.runner}`
}

/** 'here' when the job's pipeline has a job running on this runner; else why not. */
async function gitlabRunner(
  binding: SignerBinding,
  descriptor: z.infer<typeof WorkerServiceSchema>['descriptor'],
  held: z.infer<typeof WorkerJobSchema>,
): Promise<string> {
  if (!held.pipeline) return 'the Worker has not recorded its pipeline yet'
  const client = new GitlabClient({ baseUrl: binding.apiUrl, timeoutMs: LOOKUP_TIMEOUT_MS })
  const pipelineId = Number(held.pipeline.id)
  const jobs = await client.pipelineJobs({
    project:
      held.pipeline.projectId === null ? descriptor.project : String(held.pipeline.projectId),
    apiToken: binding.token,
    pipelineId,
  })
  if (!jobs.ok) return unanswered(`GitLab did not list pipeline ${pipelineId}'s jobs`, jobs.reason)
  if (!Array.isArray(jobs.value)) return 'GitLab answered garbage'
  if (
    !jobs.value.some(
      (j) => j?.status === 'running' && String(j.runner?.id ?? '') === binding.runner,
    )
  )
    return `GitLab's pipeline ${pipelineId} has no job running on runner ${binding.runner}`
  // A runner with `concurrent`/`limit` above 1 runs jobs of several pipelines at once under one
  // id: "B's pipeline has a job on this runner" is then no proof the caller is B. The signer
  // needs a one-job-at-a-time runner, and checks it is: the named job must be the only one.
  const running = await client.runnerJobs({
    runnerId: binding.runner,
    apiToken: binding.token,
    status: 'running',
  })
  if (!running.ok)
    return unanswered(`GitLab did not list runner ${binding.runner}'s running jobs`, running.reason)
  if (!Array.isArray(running.value)) return 'GitLab answered garbage'
  const onRunner = running.value.filter((j) => j?.status === 'running')
  if (onRunner.length !== 1)
    return `runner ${binding.runner} is running ${onRunner.length} jobs, not one: the signer needs a runner that runs one job at a time (concurrent = 1 / limit = 1)`
  if (Number(onRunner[0]?.pipeline?.id) !== pipelineId)
    return `runner ${binding.runner} is running another pipeline's job, not pipeline ${pipelineId}'s`
  return 'here'
}

import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expandVariables } from './expand.ts'
import type {
  Fault,
  Faults,
  GitlabStandin,
  GitlabStandinOptions,
  GitlabStatus,
  PipelineVariable,
  RunJobOutcome,
  StandinJob,
  StandinPipeline,
  StandinProject,
} from './types.ts'

const MAX_BODY = 1 << 20
const DEFAULT_SHA = 'a91957a858320c0e17f3a0eca7cfacbff50ea29a'

/** GitLab's webhook timestamp form: `2024-01-02 03:04:05 UTC`. */
const hookTime = (iso: string | null): string | null =>
  iso === null ? null : `${iso.slice(0, 19).replace('T', ' ')} UTC`

const seconds = (from: string | null, to: string | null): number | null =>
  from === null || to === null ? null : (Date.parse(to) - Date.parse(from)) / 1000

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(JSON.stringify(body))
  }
}

/** Reads a request body up to MAX_BODY bytes. */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new HttpError(413, { message: '413 Request Entity Too Large' })
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The trigger form: `token`, `ref`, `variables[KEY]` as JSON or `application/x-www-form-urlencoded`. */
function parseTriggerForm(
  contentType: string,
  body: string,
  query: URLSearchParams,
): { token?: string; ref?: string; variables: Record<string, string> } {
  const variables: Record<string, string> = {}
  if (contentType.includes('application/json')) {
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch {
      throw new HttpError(400, { message: '400 Bad request - JSON body is invalid' })
    }
    if (typeof json !== 'object' || json === null) throw new HttpError(400, { error: 'bad body' })
    const { token, ref, variables: vars } = json as Record<string, unknown>
    if (vars !== undefined) {
      if (typeof vars !== 'object' || vars === null) {
        throw new HttpError(400, { error: 'variables is invalid' })
      }
      for (const [k, v] of Object.entries(vars)) variables[k] = String(v)
    }
    return {
      token: typeof token === 'string' ? token : undefined,
      ref: typeof ref === 'string' ? ref : undefined,
      variables,
    }
  }
  const form = new URLSearchParams(body)
  for (const [k, v] of query) if (!form.has(k)) form.append(k, v)
  for (const [k, v] of form) {
    const m = /^variables\[(.+)\]$/.exec(k)
    if (m?.[1] !== undefined) variables[m[1]] = v
  }
  return { token: form.get('token') ?? undefined, ref: form.get('ref') ?? undefined, variables }
}

/** Starts a GitLab REST + webhook stand-in on loopback. */
export async function startGitlabStandin(options: GitlabStandinOptions): Promise<GitlabStandin> {
  const host = options.host ?? '127.0.0.1'
  const pipelines: StandinPipeline[] = []
  let faults: Required<Faults> = { trigger: [], read: [], quota: 0, ...options.faults }
  let triggerRequests = 0
  let nextPipelineId = 1000
  let nextJobId = 5000
  const iids = new Map<number, number>()
  const running = new Set<Promise<void>>()
  let baseUrl = ''

  const findProject = (raw: string): StandinProject => {
    const decoded = decodeURIComponent(raw)
    const project = options.projects.find(
      (p) => String(p.id) === decoded || projectPath(p) === decoded,
    )
    if (!project) throw new HttpError(404, { message: '404 Project Not Found' })
    return project
  }
  const projectPath = (p: StandinProject): string => p.path ?? `zkrunner/project-${p.id}`
  const webUrl = (p: StandinProject): string => `${baseUrl}/${projectPath(p)}`

  const requireAccess = (req: IncomingMessage, project: StandinProject): void => {
    const token = req.headers['private-token']
    const bearer = req.headers.authorization?.replace(/^Bearer /, '')
    const given = typeof token === 'string' ? token : bearer
    if (given === undefined || !(project.accessTokens ?? []).includes(given)) {
      throw new HttpError(401, { message: '401 Unauthorized' })
    }
  }

  const pipelineJson = (project: StandinProject, p: StandinPipeline) => ({
    id: p.id,
    iid: p.iid,
    project_id: p.project_id,
    sha: p.sha,
    ref: p.ref,
    status: p.status,
    source: p.source,
    created_at: p.created_at,
    updated_at: p.updated_at,
    web_url: `${webUrl(project)}/-/pipelines/${p.id}`,
    before_sha: '0000000000000000000000000000000000000000',
    tag: false,
    yaml_errors: null,
    user: standinUser,
    started_at: p.started_at,
    finished_at: p.finished_at,
    committed_at: null,
    duration: seconds(p.started_at, p.finished_at),
    queued_duration: seconds(p.created_at, p.started_at),
    coverage: null,
    detailed_status: { text: p.status, label: p.status, group: p.status },
  })

  const jobJson = (project: StandinProject, p: StandinPipeline, j: StandinJob) => ({
    id: j.id,
    name: j.name,
    stage: j.stage,
    status: j.status,
    ref: p.ref,
    tag: false,
    allow_failure: false,
    created_at: j.created_at,
    started_at: j.started_at,
    finished_at: j.finished_at,
    duration: seconds(j.started_at, j.finished_at),
    queued_duration: seconds(j.created_at, j.started_at),
    user: standinUser,
    commit: { id: p.sha, short_id: p.sha.slice(0, 8), title: 'stand-in commit' },
    pipeline: { id: p.id, project_id: p.project_id, ref: p.ref, sha: p.sha, status: p.status },
    web_url: `${webUrl(project)}/-/jobs/${j.id}`,
    failure_reason: j.status === 'failed' ? (j.failure_reason ?? 'script_failure') : undefined,
    // GitLab names the runner that picked the job up (null until one did).
    runner: j.started_at ? runnerJson() : null,
  })
  const runnerJson = () => ({
    id: options.runner?.id ?? 1,
    description: options.runner?.description ?? 'zkrunner-standin',
    ip_address: null,
    active: true,
    paused: false,
    is_shared: false,
    runner_type: 'project_type',
    name: 'gitlab-runner',
    online: true,
    status: 'online',
  })

  const sendHook = async (
    project: StandinProject,
    event: 'Pipeline Hook' | 'Job Hook',
    payload: unknown,
  ) => {
    if (!options.webhookUrl) return
    const secret = project.webhookSecret ?? options.webhookSecret
    const uuid = randomUUID()
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'GitLab/17.0.0',
      'x-gitlab-event': event,
      'x-gitlab-event-uuid': uuid,
      'x-gitlab-webhook-uuid': 'a6d4ac0f-0000-4000-8000-00000000beef',
      'x-gitlab-instance': baseUrl,
      'idempotency-key': uuid,
    }
    if (secret !== undefined) headers['x-gitlab-token'] = secret
    try {
      await fetch(options.webhookUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(10_000),
      })
    } catch {
      // GitLab logs failed deliveries and moves on; so does the stand-in.
    }
  }

  const pipelineHook = (project: StandinProject, p: StandinPipeline) => ({
    object_kind: 'pipeline',
    object_attributes: {
      id: p.id,
      iid: p.iid,
      name: null,
      ref: p.ref,
      tag: false,
      sha: p.sha,
      before_sha: '0000000000000000000000000000000000000000',
      source: p.source,
      status: p.status,
      detailed_status: p.status,
      stages: ['test'],
      created_at: hookTime(p.created_at),
      finished_at: hookTime(p.finished_at),
      duration: seconds(p.started_at, p.finished_at),
      queued_duration: seconds(p.created_at, p.started_at),
      variables: p.variables.map(({ key, value }) => ({ key, value })),
      url: `${webUrl(project)}/-/pipelines/${p.id}`,
    },
    merge_request: null,
    user: standinUser,
    project: {
      id: project.id,
      name: projectPath(project).split('/').pop(),
      web_url: webUrl(project),
      path_with_namespace: projectPath(project),
      default_branch: 'main',
    },
    commit: { id: p.sha, message: 'stand-in commit', title: 'stand-in commit' },
    builds: p.jobs.map((j) => ({
      id: j.id,
      stage: j.stage,
      name: j.name,
      status: j.status,
      created_at: hookTime(j.created_at),
      started_at: hookTime(j.started_at),
      finished_at: hookTime(j.finished_at),
      duration: seconds(j.started_at, j.finished_at),
      queued_duration: seconds(j.created_at, j.started_at),
      failure_reason: j.status === 'failed' ? (j.failure_reason ?? 'script_failure') : null,
      when: 'on_success',
      manual: false,
      allow_failure: false,
      user: standinUser,
      runner: null,
      artifacts_file: { filename: null, size: null },
      environment: null,
    })),
  })

  const jobHook = (project: StandinProject, p: StandinPipeline, j: StandinJob) => ({
    object_kind: 'build',
    ref: p.ref,
    tag: false,
    before_sha: '0000000000000000000000000000000000000000',
    sha: p.sha,
    retries_count: 0,
    build_id: j.id,
    build_name: j.name,
    build_stage: j.stage,
    build_status: j.status,
    build_created_at: hookTime(j.created_at),
    build_started_at: hookTime(j.started_at),
    build_finished_at: hookTime(j.finished_at),
    build_duration: seconds(j.started_at, j.finished_at),
    build_queued_duration: seconds(j.created_at, j.started_at),
    build_allow_failure: false,
    build_failure_reason:
      j.status === 'failed' ? (j.failure_reason ?? 'script_failure') : 'unknown_failure',
    pipeline_id: p.id,
    project_id: project.id,
    project_name: projectPath(project),
    user: standinUser,
    // GitLab's job hook puts the pipeline id in commit.id.
    commit: { id: p.id, name: null, sha: p.sha, message: 'stand-in commit', status: p.status },
    repository: { name: projectPath(project), homepage: webUrl(project) },
    runner: null,
    environment: null,
  })

  const setStatus = async (
    project: StandinProject,
    p: StandinPipeline,
    j: StandinJob,
    status: GitlabStatus,
  ) => {
    const now = new Date().toISOString()
    j.status = status
    p.status = status
    p.updated_at = now
    if (status === 'running') {
      j.started_at = now
      p.started_at = now
    }
    if (status === 'success' || status === 'failed' || status === 'canceled') {
      j.finished_at = now
      p.finished_at = now
    }
    await sendHook(project, 'Job Hook', jobHook(project, p, j))
    await sendHook(project, 'Pipeline Hook', pipelineHook(project, p))
  }

  /** The variables as the job sees them: predefined ones, then the pipeline's, expanded by GitLab's rule. */
  const jobVariables = (
    project: StandinProject,
    p: StandinPipeline,
    job: StandinJob,
  ): Record<string, string> => {
    const predefined: Record<string, string> = {
      CI_PROJECT_ID: String(project.id),
      CI_PROJECT_PATH: projectPath(project),
      CI_PIPELINE_ID: String(p.id),
      CI_JOB_ID: String(job.id),
      CI_COMMIT_SHA: p.sha,
      // A stand-in of the job's own credential: what an expanded `$CI_JOB_TOKEN` would leak.
      CI_JOB_TOKEN: `standin-ci-job-token-${job.id}`,
    }
    const raw = Object.fromEntries(p.variables.map((v) => [v.key, v.value]))
    const lookup = (name: string) => raw[name] ?? predefined[name]
    return Object.fromEntries(
      p.variables.map((v) => [v.key, v.raw ? v.value : expandVariables(v.value, lookup)]),
    )
  }

  const runPipeline = async (project: StandinProject, p: StandinPipeline) => {
    const job = p.jobs[0]
    if (!job) return
    await setStatus(project, p, job, 'pending')
    if (faults.quota > 0) {
      // The namespace's CI minutes are used up: GitLab fails the job before a runner takes it.
      faults.quota--
      job.failure_reason = 'ci_quota_exceeded'
      await setStatus(project, p, job, 'failed')
      return
    }
    await setStatus(project, p, job, 'running')
    let outcome: RunJobOutcome
    try {
      outcome = options.runJob
        ? await options.runJob({
            project,
            pipeline: p,
            job,
            variables: jobVariables(project, p, job),
          })
        : { status: 'success', trace: 'Job succeeded\n' }
    } catch (error) {
      outcome = { status: 'failed', trace: `runJob failed: ${String(error)}\n` }
    }
    job.trace = outcome.trace ?? ''
    await setStatus(project, p, job, outcome.status)
  }

  const createPipeline = (
    project: StandinProject,
    ref: string,
    variables: Record<string, string>,
  ): StandinPipeline => {
    const now = new Date().toISOString()
    const iid = (iids.get(project.id) ?? 0) + 1
    iids.set(project.id, iid)
    const pipeline: StandinPipeline = {
      id: nextPipelineId++,
      iid,
      project_id: project.id,
      ref,
      sha: project.sha ?? DEFAULT_SHA,
      status: 'created',
      source: 'trigger',
      created_at: now,
      updated_at: now,
      started_at: null,
      finished_at: null,
      variables: Object.entries(variables).map(([key, value]) => ({
        variable_type: 'env_var',
        key,
        value,
        raw: false,
      })) satisfies PipelineVariable[],
      jobs: [
        {
          id: nextJobId++,
          name: project.jobName ?? 'zkrunner',
          stage: 'test',
          status: 'created',
          created_at: now,
          started_at: null,
          finished_at: null,
          trace: '',
        },
      ],
    }
    pipelines.push(pipeline)
    if (options.autoRun !== false) {
      const run = runPipeline(project, pipeline).finally(() => running.delete(run))
      running.add(run)
    }
    return pipeline
  }

  const findPipeline = (project: StandinProject, raw: string): StandinPipeline => {
    const p = pipelines.find((x) => x.project_id === project.id && String(x.id) === raw)
    if (!p) throw new HttpError(404, { message: '404 Not found' })
    return p
  }

  /** Applies the next queued fault; returns true when it already answered. */
  const applyFault = async (
    queue: Fault[],
    res: ServerResponse,
    create?: () => void,
  ): Promise<boolean> => {
    const fault = queue.shift()
    if (!fault) return false
    if ('hangMs' in fault) {
      if (fault.created !== false) create?.()
      await new Promise((r) => setTimeout(r, fault.hangMs))
      if (res.destroyed) return true
      send(res, 504, { message: '504 Gateway Timeout' })
      return true
    }
    if (fault.status === 429) {
      send(res, 429, { message: 'Retry later' }, { 'retry-after': String(fault.retryAfter) })
      return true
    }
    if (fault.created) create?.()
    send(res, fault.status, { message: `${fault.status} Internal Server Error` })
    return true
  }

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://standin')
    if (options.control && url.pathname.startsWith('/__standin/')) {
      await control(url.pathname.slice('/__standin/'.length), req, res)
      return
    }
    const parts = url.pathname.replace(/^\/api\/v4\//, '').split('/')
    const method = req.method ?? 'GET'
    // `GET /runners/:id/jobs?status=…`: the jobs this runner is processing (or processed), limited
    // as GitLab limits them to projects the token can read (the signer asks it: one job at a time).
    const runnerJobs = /^\/api\/v4\/runners\/(\d+)\/jobs$/.exec(url.pathname)
    if (runnerJobs && method === 'GET') {
      if (Number(runnerJobs[1]) !== (options.runner?.id ?? 1))
        throw new HttpError(404, { message: '404 Runner Not Found' })
      const readable = options.projects.filter((p) => {
        try {
          requireAccess(req, p)
          return true
        } catch {
          return false
        }
      })
      if (readable.length === 0) throw new HttpError(401, { message: '401 Unauthorized' })
      if (await applyFault(faults.read, res)) return
      const status = url.searchParams.get('status')
      const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 20) || 20, 100)
      const list = readable
        .flatMap((project) =>
          pipelines
            .filter((p) => p.project_id === project.id)
            .flatMap((p) =>
              p.jobs
                .filter((j) => j.started_at !== null && (!status || j.status === status))
                .map((j) => ({
                  ...jobJson(project, p, j),
                  project: {
                    id: project.id,
                    path_with_namespace: projectPath(project),
                  },
                })),
            ),
        )
        .sort((a, b) => b.id - a.id)
        .slice(0, perPage)
      send(res, 200, list)
      return
    }
    if (!url.pathname.startsWith('/api/v4/') || parts[0] !== 'projects' || !parts[1]) {
      throw new HttpError(404, { message: '404 Not Found' })
    }
    const project = findProject(parts[1])
    const rest = parts.slice(2).join('/')

    if (method === 'POST' && rest === 'trigger/pipeline') {
      triggerRequests++
      const body = await readBody(req)
      const form = parseTriggerForm(req.headers['content-type'] ?? '', body, url.searchParams)
      if (!form.token || !project.triggerTokens.includes(form.token)) {
        throw new HttpError(404, { message: '404 Not Found' })
      }
      if (!form.ref) throw new HttpError(400, { error: 'ref is missing' })
      const ref = form.ref
      let created: StandinPipeline | undefined
      const create = () => {
        created = createPipeline(project, ref, form.variables)
      }
      if (await applyFault(faults.trigger, res, create)) return
      create()
      send(res, 201, pipelineJson(project, created!))
      return
    }
    if (method !== 'GET') throw new HttpError(405, { message: '405 Method Not Allowed' })
    requireAccess(req, project)
    if (await applyFault(faults.read, res)) return

    let m: RegExpExecArray | null = null
    if (rest === 'pipelines') {
      const q = url.searchParams
      const after = q.get('updated_after')
      const perPage = Math.min(Number(q.get('per_page') ?? 20) || 20, 100)
      const list = pipelines
        .filter((p) => p.project_id === project.id)
        .filter((p) => !q.get('source') || p.source === q.get('source'))
        .filter((p) => !q.get('ref') || p.ref === q.get('ref'))
        .filter((p) => !q.get('status') || p.status === q.get('status'))
        .filter((p) => !after || Date.parse(p.updated_at) > Date.parse(after))
        .sort((a, b) => b.id - a.id)
        .slice(0, perPage)
      send(
        res,
        200,
        list.map((p) => {
          const { user: _u, detailed_status: _d, ...basic } = pipelineJson(project, p)
          return basic
        }),
      )
      return
    }
    m = /^pipelines\/(\d+)$/.exec(rest)
    if (m) {
      send(res, 200, pipelineJson(project, findPipeline(project, m[1]!)))
      return
    }
    m = /^pipelines\/(\d+)\/variables$/.exec(rest)
    if (m) {
      send(res, 200, findPipeline(project, m[1]!).variables)
      return
    }
    m = /^pipelines\/(\d+)\/jobs$/.exec(rest)
    if (m) {
      const p = findPipeline(project, m[1]!)
      send(
        res,
        200,
        p.jobs.map((j) => jobJson(project, p, j)),
      )
      return
    }
    m = /^jobs\/(\d+)(\/trace)?$/.exec(rest)
    if (m) {
      const id = Number(m[1])
      const p = pipelines.find(
        (x) => x.project_id === project.id && x.jobs.some((j) => j.id === id),
      )
      const job = p?.jobs.find((j) => j.id === id)
      if (!p || !job) throw new HttpError(404, { message: '404 Not found' })
      if (m[2]) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
        res.end(job.trace)
      } else {
        send(res, 200, jobJson(project, p, job))
      }
      return
    }
    throw new HttpError(404, { message: '404 Not Found' })
  }

  /** Test and local-stack control: set faults, read pipelines (never exposed unless `control`). */
  const control = async (what: string, req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && what === 'faults') {
      const next = JSON.parse((await readBody(req)) || '{}') as Faults
      faults = { trigger: [], read: [], quota: 0, ...next }
      send(res, 200, { ok: true })
      return
    }
    if (req.method === 'GET' && what === 'pipelines') {
      // jobVariables: what the pipeline's job sees after GitLab's variable expansion.
      const view = pipelines.map((p) => {
        const project = options.projects.find((x) => x.id === p.project_id)
        const job = p.jobs[0]
        return project && job ? { ...p, jobVariables: jobVariables(project, p, job) } : p
      })
      send(res, 200, { triggerRequests, pipelines: view })
      return
    }
    throw new HttpError(404, { message: '404 Not Found' })
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return
      if (error instanceof HttpError) send(res, error.status, error.body)
      else send(res, 500, { message: '500 Internal Server Error' })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  baseUrl = `http://${host}:${address.port}`

  return {
    url: baseUrl,
    pipelines,
    triggerRequests: () => triggerRequests,
    setFaults(next) {
      faults = { trigger: [], read: [], quota: 0, ...next }
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running])
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const standinUser = {
  id: 1,
  name: 'Stand-in Maintainer',
  username: 'standin',
  state: 'active',
  avatar_url: null,
  web_url: 'http://standin/standin',
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

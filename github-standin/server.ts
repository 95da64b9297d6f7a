import { createHmac, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expandExpressions } from './expressions.ts'
import { jobJson, runJson, workflowJobPayload, workflowRunPayload } from './payloads.ts'
import type {
  Delivery,
  DispatchAnswer,
  Fault,
  Faults,
  GithubStandin,
  GithubStandinOptions,
  RunConclusion,
  RunJobOutcome,
  RunStatus,
  StandinJob,
  StandinRepo,
  StandinRun,
  StandinWorkflow,
} from './types.ts'

const MAX_BODY = 1 << 20
const DEFAULT_SHA = 'a91957a858320c0e17f3a0eca7cfacbff50ea29a'
const DOCS = 'https://docs.github.com/rest'
/** GitHub's dispatch limits: 25 inputs, 65,535 characters of values. */
const MAX_INPUTS = 25
const MAX_INPUT_CHARS = 65_535
/** Run ids beyond 2^32, as github.com's are: a client that keeps them in 32 bits breaks here too. */
const FIRST_RUN_ID = 2 ** 33 + 1000

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(JSON.stringify(body))
  }
}
const notFound = () => new HttpError(404, { message: 'Not Found', documentation_url: DOCS })
const invalid = (message: string) =>
  new HttpError(422, { message, documentation_url: `${DOCS}/actions/workflows` })

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new HttpError(413, { message: 'Payload Too Large' })
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body under the secret. */
export function signatureOf(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/**
 * Starts a GitHub REST + webhook stand-in on loopback: the Actions subset zkrunner uses, at `/`
 * (as api.github.com) and at `/api/v3` (as GitHub Enterprise Server), and run pages at
 * `/{owner}/{repo}/actions/runs/{id}` on the same origin.
 */
export async function startGithubStandin(options: GithubStandinOptions): Promise<GithubStandin> {
  const host = options.host ?? '127.0.0.1'
  const runs: StandinRun[] = []
  const deliveries: Delivery[] = []
  let faults: Required<Faults> = { dispatch: [], read: [], ...options.faults }
  let dispatchAnswer: DispatchAnswer = options.dispatchAnswer ?? 'run-details'
  let dispatchRequests = 0
  let nextRunId = FIRST_RUN_ID
  let nextJobId = 2 ** 34 + 7000
  const runNumbers = new Map<string, number>()
  const running = new Set<Promise<void>>()
  let baseUrl = ''

  const findRepo = (owner: string, name: string): StandinRepo => {
    const repo = options.repos.find(
      (r) =>
        r.owner.toLowerCase() === owner.toLowerCase() &&
        r.name.toLowerCase() === name.toLowerCase(),
    )
    if (!repo) throw notFound()
    return repo
  }
  const findWorkflow = (repo: StandinRepo, raw: string): StandinWorkflow => {
    const decoded = decodeURIComponent(raw)
    const wf = repo.workflows.find((w) => String(w.id) === decoded || w.file === decoded)
    if (!wf) throw notFound()
    return wf
  }
  /** `Authorization: Bearer <token>` (or the older `token <token>`); GitHub hides a private repo: 404. */
  const requireToken = (req: IncomingMessage, repo: StandinRepo): void => {
    const m = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '')
    if (!m)
      throw new HttpError(401, { message: 'Requires authentication', documentation_url: DOCS })
    if (!repo.tokens.includes(m[1]!)) throw notFound()
  }

  const sendHook = async (repo: StandinRepo, event: Delivery['event'], payload: unknown) => {
    const delivery: Delivery = {
      id: randomUUID(),
      event,
      action: (payload as { action: string }).action,
      body: JSON.stringify(payload),
      repo,
    }
    deliveries.push(delivery)
    await deliver(delivery)
  }
  const deliver = async (d: Delivery): Promise<number | null> => {
    if (!options.webhookUrl) return null
    const secret = d.repo.webhookSecret ?? options.webhookSecret
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/standin',
      'x-github-event': d.event,
      'x-github-delivery': d.id,
      'x-github-hook-id': '424242',
      'x-github-hook-installation-target-type': 'repository',
      'x-github-hook-installation-target-id': '1',
    }
    if (secret !== undefined) {
      headers['x-hub-signature-256'] = signatureOf(secret, d.body)
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', secret).update(d.body).digest('hex')}`
    }
    try {
      const res = await fetch(options.webhookUrl, {
        method: 'POST',
        headers,
        body: d.body,
        signal: AbortSignal.timeout(10_000),
      })
      await res.arrayBuffer()
      return res.status
    } catch {
      // GitHub records a failed delivery and does not retry on its own; neither does the stand-in.
      return null
    }
  }

  const setRunState = async (
    repo: StandinRepo,
    run: StandinRun,
    job: StandinJob,
    status: RunStatus,
    conclusion: RunConclusion = null,
  ) => {
    const now = new Date().toISOString()
    run.status = status
    run.conclusion = conclusion
    run.updated_at = now
    job.status = status
    job.conclusion = conclusion
    if (status === 'in_progress') {
      run.run_started_at = now
      job.started_at = now
    }
    if (status === 'completed') job.completed_at = now
    // GitHub's order: the job's event, then the run's (a run is requested before its job queues).
    if (status === 'queued') {
      await sendHook(repo, 'workflow_run', workflowRunPayload(repo, run, baseUrl))
      await sendHook(
        repo,
        'workflow_job',
        workflowJobPayload(repo, run, job, baseUrl, options.runnerName),
      )
      return
    }
    await sendHook(
      repo,
      'workflow_job',
      workflowJobPayload(repo, run, job, baseUrl, options.runnerName),
    )
    await sendHook(repo, 'workflow_run', workflowRunPayload(repo, run, baseUrl))
  }

  /** The dispatch event a runner writes to GITHUB_EVENT_PATH. */
  const dispatchEvent = (repo: StandinRepo, run: StandinRun) => ({
    inputs: run.inputs,
    ref: `refs/heads/${run.head_branch}`,
    repository: {
      name: repo.name,
      full_name: `${repo.owner}/${repo.name}`,
      owner: { login: repo.owner },
      html_url: `${baseUrl}/${repo.owner}/${repo.name}`,
      default_branch: repo.defaultBranch ?? 'main',
    },
    sender: { login: 'zkrunner-worker', type: 'Bot' },
    workflow: run.path,
  })

  /** Runs waiting for a free runner slot (`runnerSlots`), in dispatch order. */
  const waiting: (() => void)[] = []
  let busy = 0
  const takeSlot = async () => {
    if (options.runnerSlots !== undefined && busy >= options.runnerSlots)
      await new Promise<void>((resolve) => waiting.push(resolve))
    busy++
  }
  const freeSlot = () => {
    busy--
    waiting.shift()?.()
  }

  const runWorkflow = async (repo: StandinRepo, wf: StandinWorkflow, run: StandinRun) => {
    const job = run.jobs[0]!
    await setRunState(repo, run, job, 'queued')
    await takeSlot()
    try {
      await runJobOnRunner(repo, wf, run, job)
    } finally {
      freeSlot()
    }
  }

  const runJobOnRunner = async (
    repo: StandinRepo,
    wf: StandinWorkflow,
    run: StandinRun,
    job: StandinJob,
  ) => {
    await setRunState(repo, run, job, 'in_progress')
    let outcome: RunJobOutcome
    try {
      outcome = options.runJob
        ? await options.runJob({
            repo,
            workflow: wf,
            run,
            job,
            event: dispatchEvent(repo, run),
            serverUrl: baseUrl,
          })
        : { conclusion: 'success', log: 'Job succeeded\n' }
    } catch (error) {
      outcome = { conclusion: 'failure', log: `runJob failed: ${String(error)}\n` }
    }
    job.log = outcome.log ?? ''
    await setRunState(repo, run, job, 'completed', outcome.conclusion)
  }

  /** GitHub's checks on a dispatch's inputs: declared names only, required ones given, limits. */
  const checkInputs = (wf: StandinWorkflow, given: unknown): Record<string, string> => {
    if (given === undefined || given === null) given = {}
    if (typeof given !== 'object' || Array.isArray(given))
      throw invalid('Invalid request.\n\nFor \'properties/inputs\', "x" is not an object.')
    const entries = Object.entries(given as Record<string, unknown>)
    if (entries.length > MAX_INPUTS)
      throw invalid(
        `you may only define up to ${MAX_INPUTS} \`inputs\` for a workflow_dispatch event`,
      )
    const unexpected = entries.map(([k]) => k).filter((k) => !(k in wf.inputs))
    if (unexpected.length)
      throw invalid(`Unexpected inputs provided: ${JSON.stringify(unexpected)}`)
    let chars = 0
    const out: Record<string, string> = {}
    for (const [k, v] of entries) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw invalid(`Invalid value for input '${k}'`)
      out[k] = String(v)
      chars += out[k].length
    }
    if (chars > MAX_INPUT_CHARS)
      throw invalid(`inputs are too large (${chars} characters, at most ${MAX_INPUT_CHARS})`)
    for (const [k, spec] of Object.entries(wf.inputs)) {
      if (out[k] === undefined && spec.default !== undefined) out[k] = spec.default
      if (spec.required && (out[k] === undefined || out[k] === ''))
        throw invalid(`Required input '${k}' not provided`)
    }
    return out
  }

  const createRun = (
    repo: StandinRepo,
    wf: StandinWorkflow,
    ref: string,
    inputs: Record<string, string>,
  ) => {
    const now = new Date().toISOString()
    const key = `${repo.owner}/${repo.name}`
    const runNumber = (runNumbers.get(key) ?? 0) + 1
    runNumbers.set(key, runNumber)
    const run: StandinRun = {
      id: nextRunId++,
      run_number: runNumber,
      run_attempt: 1,
      owner: repo.owner,
      repo: repo.name,
      workflow_id: wf.id,
      name: wf.name,
      display_title: '',
      event: 'workflow_dispatch',
      head_branch: ref.replace(/^refs\/(heads|tags)\//, ''),
      head_sha: repo.sha ?? DEFAULT_SHA,
      path: `.github/workflows/${wf.file}`,
      status: 'queued',
      conclusion: null,
      created_at: now,
      updated_at: now,
      run_started_at: null,
      inputs,
      jobs: [
        {
          id: nextJobId++,
          name: wf.jobName,
          status: 'queued',
          conclusion: null,
          created_at: now,
          started_at: null,
          completed_at: null,
          log: '',
        },
      ],
    }
    run.display_title = wf.runName
      ? expandExpressions(wf.runName, {
          inputs,
          github: { sha: run.head_sha, run_id: String(run.id), ref },
        })
      : wf.name
    runs.push(run)
    if (options.autoRun !== false) {
      const p = runWorkflow(repo, wf, run).finally(() => running.delete(p))
      running.add(p)
    }
    return run
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
      if (!res.destroyed) send(res, 504, { message: 'Gateway Timeout' })
      return true
    }
    if ('resetIn' in fault) {
      send(
        res,
        403,
        { message: 'API rate limit exceeded for user.', documentation_url: `${DOCS}/rate-limit` },
        {
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-used': '5000',
          'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + fault.resetIn),
          'x-ratelimit-resource': 'core',
        },
      )
      return true
    }
    if ('retryAfter' in fault) {
      send(
        res,
        fault.status,
        {
          message:
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          documentation_url: `${DOCS}/rate-limit`,
        },
        { 'retry-after': String(fault.retryAfter) },
      )
      return true
    }
    if (fault.created) create?.()
    send(res, fault.status, { message: 'Server Error' })
    return true
  }

  const listRuns = (repo: StandinRepo, q: URLSearchParams, wf?: StandinWorkflow) => {
    const created = q.get('created')
    const since = created?.startsWith('>=')
      ? Date.parse(created.slice(2))
      : created?.startsWith('>')
        ? Date.parse(created.slice(1)) + 1
        : Number.NaN
    const perPage = Math.min(Number(q.get('per_page') ?? 30) || 30, 100)
    const page = Math.max(Number(q.get('page') ?? 1) || 1, 1)
    const all = runs
      .filter((r) => r.owner === repo.owner && r.repo === repo.name)
      .filter((r) => !wf || r.workflow_id === wf.id)
      .filter((r) => !q.get('event') || r.event === q.get('event'))
      .filter((r) => !q.get('branch') || r.head_branch === q.get('branch'))
      .filter((r) => !q.get('head_sha') || r.head_sha === q.get('head_sha'))
      .filter(
        (r) => !q.get('status') || r.status === q.get('status') || r.conclusion === q.get('status'),
      )
      .filter((r) => Number.isNaN(since) || Date.parse(r.created_at) >= since)
      .sort((a, b) => b.id - a.id)
    return {
      total_count: all.length,
      workflow_runs: all
        .slice((page - 1) * perPage, page * perPage)
        .map((r) => runJson(repo, r, baseUrl)),
    }
  }

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://standin')
    if (options.control && url.pathname.startsWith('/__standin/')) {
      await control(url.pathname.slice('/__standin/'.length), req, res)
      return
    }
    const method = req.method ?? 'GET'
    const page = /^\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)(?:\/job\/\d+)?$/.exec(url.pathname)
    if (method === 'GET' && page && page[1] !== 'repos') {
      const run = runs.find(
        (r) => String(r.id) === page[3] && r.owner === page[1] && r.repo === page[2],
      )
      if (!run) throw notFound()
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(
        `<!doctype html><title>${escapeHtml(run.display_title)}</title><h1>${escapeHtml(run.display_title)}</h1><p>${run.status} ${run.conclusion ?? ''}</p><pre>${escapeHtml(run.jobs[0]?.log ?? '')}</pre>`,
      )
      return
    }
    const path = url.pathname.replace(/^\/api\/v3(?=\/)/, '')
    const m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/(.+)$/.exec(path)
    if (!m) throw notFound()
    const repo = findRepo(m[1]!, m[2]!)
    requireToken(req, repo)
    const rest = m[3]!
    let r: RegExpExecArray | null = /^workflows\/([^/]+)\/dispatches$/.exec(rest)
    if (r) {
      if (method !== 'POST') throw notFound()
      dispatchRequests++
      const wf = findWorkflow(repo, r[1]!)
      let body: Record<string, unknown>
      try {
        body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>
      } catch {
        throw new HttpError(400, { message: 'Problems parsing JSON', documentation_url: DOCS })
      }
      if (typeof body !== 'object' || body === null)
        throw new HttpError(400, { message: 'Problems parsing JSON' })
      if (typeof body.ref !== 'string' || body.ref === '')
        throw invalid('Invalid request.\n\n"ref" wasn\'t supplied.')
      const ref = body.ref
      const known = repo.refs ?? [repo.defaultBranch ?? 'main']
      if (!known.includes(ref.replace(/^refs\/(heads|tags)\//, '')))
        throw invalid(`No ref found for: ${ref}`)
      const details = body.return_run_details
      if (details !== undefined && dispatchAnswer === 'reject-field')
        throw invalid('Invalid request.\n\n"return_run_details" is not a permitted key.')
      const inputs = checkInputs(wf, body.inputs)
      let created: StandinRun | undefined
      const create = () => {
        created = createRun(repo, wf, ref, inputs)
      }
      if (await applyFault(faults.dispatch, res, create)) return
      create()
      if (details === true && dispatchAnswer === 'run-details') {
        const json = runJson(repo, created!, baseUrl)
        send(res, 200, { workflow_run_id: created!.id, run_url: json.url, html_url: json.html_url })
      } else {
        res.writeHead(204, rateHeaders())
        res.end()
      }
      return
    }
    if (method !== 'GET') throw notFound()
    if (await applyFault(faults.read, res)) return
    if (rest === 'runs') {
      send(res, 200, listRuns(repo, url.searchParams))
      return
    }
    r = /^workflows\/([^/]+)\/runs$/.exec(rest)
    if (r) {
      send(res, 200, listRuns(repo, url.searchParams, findWorkflow(repo, r[1]!)))
      return
    }
    r = /^runs\/(\d+)(\/jobs)?$/.exec(rest)
    if (r) {
      const run = runs.find(
        (x) => String(x.id) === r![1] && x.owner === repo.owner && x.repo === repo.name,
      )
      if (!run) throw notFound()
      send(
        res,
        200,
        r[2]
          ? {
              total_count: run.jobs.length,
              jobs: run.jobs.map((j) => jobJson(repo, run, j, baseUrl, options.runnerName)),
            }
          : runJson(repo, run, baseUrl),
      )
      return
    }
    throw notFound()
  }

  /** Test and local-stack control (never exposed unless `control`). */
  const control = async (what: string, req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && what === 'faults') {
      faults = { dispatch: [], read: [], ...(JSON.parse((await readBody(req)) || '{}') as Faults) }
      send(res, 200, { ok: true })
      return
    }
    if (req.method === 'POST' && what === 'dispatch-answer') {
      const { answer } = JSON.parse(await readBody(req)) as { answer: DispatchAnswer }
      if (!['run-details', 'no-content', 'reject-field'].includes(answer))
        throw new HttpError(400, { message: 'answer' })
      dispatchAnswer = answer
      send(res, 200, { ok: true })
      return
    }
    if (req.method === 'POST' && what === 'redeliver') {
      const { id } = JSON.parse(await readBody(req)) as { id: string }
      send(res, 200, { status: await redeliver(id) })
      return
    }
    if (req.method === 'GET' && what === 'runs') {
      send(res, 200, {
        dispatchRequests,
        runs,
        deliveries: deliveries.map(({ repo: _r, body: _b, ...d }) => d),
      })
      return
    }
    throw notFound()
  }

  const redeliver = async (id: string): Promise<number | null> => {
    const d = deliveries.find((x) => x.id === id)
    if (!d) throw notFound()
    return deliver(d)
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return
      if (error instanceof HttpError) send(res, error.status, error.body)
      else send(res, 500, { message: 'Server Error' })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  baseUrl = `http://${host}:${(server.address() as AddressInfo).port}`

  return {
    url: baseUrl,
    runs,
    deliveries,
    dispatchRequests: () => dispatchRequests,
    setFaults(next) {
      faults = { dispatch: [], read: [], ...next }
    },
    setDispatchAnswer(answer) {
      dispatchAnswer = answer
    },
    redeliver,
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running])
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** The rate-limit headers GitHub puts on every REST answer. */
function rateHeaders(): Record<string, string> {
  return {
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': '4999',
    'x-ratelimit-used': '1',
    'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 3600),
    'x-ratelimit-resource': 'core',
    'x-github-api-version-selected': '2022-11-28',
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    ...rateHeaders(),
    ...headers,
  })
  res.end(JSON.stringify(body))
}

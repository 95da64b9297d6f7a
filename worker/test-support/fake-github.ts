/** One planned answer to the next dispatch (then the fake behaves normally again). */
export interface DispatchFault {
  status: number
  /** A 5xx that still created the run (an ambiguous failure). */
  created?: boolean
  /** `Retry-After` seconds. */
  retryAfter?: number
  /** `x-ratelimit-remaining: 0` and `x-ratelimit-reset` this many seconds from now. */
  rateLimitResetIn?: number
}

/** The fake's fault plan: queues consumed one answer per request. */
export interface FakeGithubFaults {
  trigger?: DispatchFault[]
  list?: { status: number }[]
  /** Answer dispatches 204 without run details (an older GitHub Enterprise). */
  legacy?: boolean
}

interface Run {
  id: bigint
  repository: string
  workflow: string
  ref: string
  inputs: Record<string, string>
  displayTitle: string
  createdAt: string
}

/** Run ids start above 2^53: an id read as a JS number would come out wrong. */
const FIRST_RUN_ID = 2n ** 53n + 1n

/**
 * An in-memory GitHub REST API for the workerd tests: the dispatch and runs-list endpoints the
 * Worker's GithubClient calls (worker/README.md), with the workflow's run-name applied, 64-bit run
 * ids, and faults on demand. A fetch handler, served on loopback by fake-github-server.ts.
 */
export function createFakeGithub(options: { token: string; repository: string }) {
  const runs: Run[] = []
  let nextId = FIRST_RUN_ID
  let faults: FakeGithubFaults = {}
  let dispatchRequests = 0

  const json = (status: number, text: string, headers: Record<string, string> = {}) =>
    new Response(text, { status, headers: { 'content-type': 'application/json', ...headers } })

  const createRun = (workflow: string, ref: string, inputs: Record<string, string>): Run => {
    const run: Run = {
      id: nextId++,
      repository: options.repository,
      workflow,
      ref,
      inputs,
      // The sample workflow's `run-name: zkrunner ${{ inputs.ZKRUNNER_JOB_ID }}`.
      displayTitle: `zkrunner ${inputs.ZKRUNNER_JOB_ID ?? ''}`,
      createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }
    runs.push(run)
    return run
  }
  const htmlUrl = (run: Run) => `https://github.com/${run.repository}/actions/runs/${run.id}`
  // Ids are written as bare JSON numbers, as GitHub does, whatever their size.
  const runJson = (run: Run) =>
    `{"id":${run.id},"display_title":${JSON.stringify(run.displayTitle)},"event":"workflow_dispatch","status":"queued","conclusion":null,"html_url":${JSON.stringify(htmlUrl(run))},"created_at":"${run.createdAt}","repository":{"id":777,"full_name":${JSON.stringify(run.repository)}}}`

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === '/__fake/faults' && request.method === 'POST') {
      faults = (await request.json()) as FakeGithubFaults
      return json(200, '{}')
    }
    if (url.pathname === '/__fake/state') {
      const state = runs.map((r) => ({ id: String(r.id), inputs: r.inputs, title: r.displayTitle }))
      return json(200, JSON.stringify({ dispatchRequests, runs: state }))
    }
    const route =
      /^\/repos\/([^/]+)\/([^/]+)\/actions\/workflows\/([^/]+)\/(dispatches|runs)$/.exec(
        url.pathname,
      )
    if (!route) return json(404, '{"message":"Not Found"}')
    if (request.headers.get('authorization') !== `Bearer ${options.token}`) {
      return json(401, '{"message":"Bad credentials"}')
    }
    const repository = `${decodeURIComponent(route[1]!)}/${decodeURIComponent(route[2]!)}`
    if (repository !== options.repository) return json(404, '{"message":"Not Found"}')
    const workflow = decodeURIComponent(route[3]!)
    if (route[4] === 'runs') {
      const fault = faults.list?.shift()
      if (fault) return json(fault.status, '{"message":"fault"}')
      if (url.searchParams.get('event') !== 'workflow_dispatch') return json(200, '{}')
      const since = Date.parse((url.searchParams.get('created') ?? '>=1970-01-01').slice(2))
      const list = runs
        .filter((r) => r.workflow === workflow && Date.parse(r.createdAt) >= since - 1000)
        .reverse()
      return json(
        200,
        `{"total_count":${list.length},"workflow_runs":[${list.map(runJson).join(',')}]}`,
      )
    }
    if (request.method !== 'POST') return json(404, '{"message":"Not Found"}')
    dispatchRequests++
    const body = (await request.json()) as {
      ref?: unknown
      inputs?: Record<string, string>
      return_run_details?: unknown
    }
    if (faults.legacy && body.return_run_details !== undefined) {
      return json(
        422,
        '{"message":"Invalid request.\\n\\n\\"return_run_details\\" is not a permitted key."}',
      )
    }
    const inputs = body.inputs ?? {}
    if (typeof body.ref !== 'string' || Object.keys(inputs).length > 25) {
      return json(422, '{"message":"Invalid request"}')
    }
    const fault = faults.trigger?.shift()
    if (fault) {
      if (fault.created) createRun(workflow, body.ref, inputs)
      const headers: Record<string, string> = {}
      if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter)
      if (fault.rateLimitResetIn !== undefined) {
        headers['x-ratelimit-remaining'] = '0'
        headers['x-ratelimit-reset'] = String(
          Math.floor(Date.now() / 1000) + fault.rateLimitResetIn,
        )
      }
      const message =
        fault.status === 403 || fault.status === 429 ? 'API rate limit exceeded' : 'fault'
      return json(fault.status, JSON.stringify({ message }), headers)
    }
    const run = createRun(workflow, body.ref, inputs)
    if (faults.legacy || body.return_run_details !== true)
      return new Response(null, { status: 204 })
    return json(
      200,
      `{"workflow_run_id":${run.id},"run_url":"https://api.github.com/repos/${run.repository}/actions/runs/${run.id}","html_url":${JSON.stringify(htmlUrl(run))}}`,
    )
  }

  return { handle }
}

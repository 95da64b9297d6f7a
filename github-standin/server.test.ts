import { createHmac } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { WorkflowJobEvent, WorkflowRunEvent } from './payloads.ts'
import { runAsSelfHostedRunner } from './runner.ts'
import { signatureOf, startGithubStandin } from './server.ts'
import type { GithubStandin, GithubStandinOptions, StandinRepo } from './types.ts'
import { parseWorkflow } from './workflow.ts'

const root = new URL('..', import.meta.url).pathname
const sample = parseWorkflow(
  await readFile(join(root, 'examples/sample-primes/.github/workflows/zkrunner.yml'), 'utf8'),
)
const repo: StandinRepo = {
  owner: 'octo',
  name: 'primes',
  tokens: ['github_pat_good'],
  workflows: [{ id: 161335, file: 'zkrunner.yml', ...sample.workflow }],
  sha: 'c'.repeat(40),
}
const auth = { authorization: 'Bearer github_pat_good', 'content-type': 'application/json' }
const jobId = '0123456789abcdef0123456789abcdef'
const inputs = {
  ZKRUNNER_JOB_ID: jobId,
  ZKRUNNER_SERVICE: 'B62service',
  ZKRUNNER_USER: 'B62user',
  ZKRUNNER_SOURCE_COMMITMENT: 'c'.repeat(40),
  LIMIT: '100',
}

let standin: GithubStandin | undefined
let hookServer: ReturnType<typeof createServer> | undefined
let work: string | undefined
afterEach(async () => {
  await standin?.close()
  await new Promise((r) => (hookServer ? hookServer.close(r) : r(undefined)))
  if (work) await rm(work, { recursive: true, force: true })
  standin = hookServer = work = undefined
})

interface Hook {
  headers: IncomingHttpHeaders
  raw: string
}
async function hookSink(): Promise<{ url: string; hooks: Hook[] }> {
  const hooks: Hook[] = []
  hookServer = createServer((req, res) => {
    let raw = ''
    req.on('data', (c) => (raw += c))
    req.on('end', () => {
      hooks.push({ headers: req.headers, raw })
      res.end('{}')
    })
  })
  await new Promise<void>((r) => hookServer!.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/v1/github/webhook`,
    hooks,
  }
}

const start = async (o: Partial<GithubStandinOptions> = {}) =>
  (standin = await startGithubStandin({ repos: [repo], ...o }))
const dispatch = (body: unknown, prefix = '', headers: Record<string, string> = auth) =>
  fetch(`${standin!.url}${prefix}/repos/octo/primes/actions/workflows/zkrunner.yml/dispatches`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
  })
const get = (path: string) => fetch(`${standin!.url}${path}`, { headers: auth })

describe('github stand-in', () => {
  it('dispatches with run details, runs, and sends signed workflow_run / workflow_job deliveries shaped like GitHub', async () => {
    const sink = await hookSink()
    await start({ webhookUrl: sink.url, webhookSecret: "It's a Secret to Everybody" })
    const res = await dispatch({ ref: 'main', inputs, return_run_details: true })
    expect(res.status).toBe(200)
    const details = (await res.json()) as {
      workflow_run_id: number
      run_url: string
      html_url: string
    }
    // 64-bit run ids, as github.com hands out: beyond 2^32.
    expect(details.workflow_run_id).toBeGreaterThan(2 ** 32)
    expect(details.run_url).toBe(
      `${standin!.url}/repos/octo/primes/actions/runs/${details.workflow_run_id}`,
    )
    expect(new URL(details.html_url).origin).toBe(standin!.url)
    await standin!.idle()

    for (const h of sink.hooks) {
      const expected = createHmac('sha256', "It's a Secret to Everybody")
        .update(h.raw)
        .digest('hex')
      expect(h.headers['x-hub-signature-256']).toBe(`sha256=${expected}`)
      expect(h.headers['x-github-delivery']).toMatch(/^[0-9a-f-]{36}$/)
    }
    const runs = sink.hooks
      .filter((h) => h.headers['x-github-event'] === 'workflow_run')
      .map((h) => JSON.parse(h.raw) as WorkflowRunEvent)
    expect(runs.map((r) => r.action)).toEqual(['requested', 'in_progress', 'completed'])
    const done = runs[2]!
    expect(done.workflow_run).toMatchObject({
      id: details.workflow_run_id,
      event: 'workflow_dispatch',
      status: 'completed',
      conclusion: 'success',
      head_sha: 'c'.repeat(40),
      html_url: details.html_url,
    })
    const title = ('display_title' in done.workflow_run && done.workflow_run.display_title) || ''
    expect(title).toBe(`zkrunner ${jobId}`)
    expect(done.repository.full_name).toBe('octo/primes')
    const jobs = sink.hooks
      .filter((h) => h.headers['x-github-event'] === 'workflow_job')
      .map((h) => JSON.parse(h.raw) as WorkflowJobEvent)
    expect(jobs.map((j) => j.action)).toEqual(['queued', 'in_progress', 'completed'])
    expect(jobs[2]!.workflow_job).toMatchObject({
      run_id: details.workflow_run_id,
      conclusion: 'success',
      workflow_name: 'zkrunner sample-primes',
      name: 'test',
    })
    // Redelivery sends the same body under the same delivery id.
    const first = standin!.deliveries[0]!
    expect(await standin!.redeliver(first.id)).toBe(200)
    const again = sink.hooks.at(-1)!
    expect(again.headers['x-github-delivery']).toBe(first.id)
    expect(again.raw).toBe(first.body)
    // The docs' vector, through the same signing code.
    expect(signatureOf("It's a Secret to Everybody", 'Hello, World!')).toBe(
      'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    )
  })

  it('answers 204 without run details (or on a server that ignores them); the run is found by its run-name', async () => {
    await start({ autoRun: false })
    const since = new Date(Date.now() - 1000).toISOString()
    expect((await dispatch({ ref: 'main', inputs })).status).toBe(204)
    standin!.setDispatchAnswer('no-content')
    expect(
      (await dispatch({ ref: 'main', inputs, return_run_details: true }, '/api/v3')).status,
    ).toBe(204)
    standin!.setDispatchAnswer('reject-field')
    expect((await dispatch({ ref: 'main', inputs, return_run_details: true })).status).toBe(422)
    expect(standin!.runs).toHaveLength(2)
    const list = await get(
      `/repos/octo/primes/actions/runs?event=workflow_dispatch&created=>=${since}`,
    )
    const body = (await list.json()) as {
      total_count: number
      workflow_runs: { id: number; display_title: string }[]
    }
    expect(body.total_count).toBe(2)
    expect(body.workflow_runs.map((r) => r.display_title)).toEqual([
      `zkrunner ${jobId}`,
      `zkrunner ${jobId}`,
    ])
    const later = await get(
      `/api/v3/repos/octo/primes/actions/runs?created=>=${new Date(Date.now() + 5000).toISOString()}`,
    )
    expect(((await later.json()) as { total_count: number }).total_count).toBe(0)
    const one = await get(`/repos/octo/primes/actions/runs/${body.workflow_runs[0]!.id}`)
    expect(await one.json()).toMatchObject({ id: body.workflow_runs[0]!.id, status: 'queued' })
    const jobs = await get(`/repos/octo/primes/actions/runs/${body.workflow_runs[0]!.id}/jobs`)
    expect(((await jobs.json()) as { total_count: number }).total_count).toBe(1)
  })

  it('refuses what GitHub refuses: bad token, unknown ref or input, too many or too long inputs, missing required ones', async () => {
    await start({ autoRun: false })
    expect(
      (await dispatch({ ref: 'main', inputs }, '', { 'content-type': 'application/json' })).status,
    ).toBe(401)
    expect(
      (await dispatch({ ref: 'main', inputs }, '', { authorization: 'Bearer nope' })).status,
    ).toBe(404)
    expect((await dispatch({ inputs })).status).toBe(422)
    expect((await dispatch({ ref: 'other', inputs })).status).toBe(422)
    const unexpected = await dispatch({ ref: 'main', inputs: { ...inputs, CI_JOB_TOKEN: 'x' } })
    expect(unexpected.status).toBe(422)
    expect(((await unexpected.json()) as { message: string }).message).toMatch(/Unexpected inputs/)
    const many = Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`i${i}`, 'x']))
    expect((await dispatch({ ref: 'main', inputs: many })).status).toBe(422)
    expect(
      (await dispatch({ ref: 'main', inputs: { ...inputs, ZKRUNNER_VOUCHER: 'x'.repeat(65_536) } }))
        .status,
    ).toBe(422)
    const { ZKRUNNER_USER: _u, ...missing } = inputs
    expect((await dispatch({ ref: 'main', inputs: missing })).status).toBe(422)
    expect(standin!.runs).toHaveLength(0)
    // Requests refused before authentication are not dispatch requests of the repository.
    expect(standin!.dispatchRequests()).toBe(6)
  })

  it('plays faults: an ambiguous 502 after creating, secondary and primary rate limits, a hang', async () => {
    await start({
      autoRun: false,
      faults: {
        dispatch: [
          { status: 502, created: true },
          { status: 403, retryAfter: 3 },
          { status: 429, retryAfter: 1 },
          { status: 403, resetIn: 60 },
          { hangMs: 30 },
        ],
        read: [{ status: 503 }],
      },
    })
    const body = { ref: 'main', inputs, return_run_details: true }
    expect((await dispatch(body)).status).toBe(502)
    expect(standin!.runs).toHaveLength(1)
    const secondary = await dispatch(body)
    expect(secondary.status).toBe(403)
    expect(secondary.headers.get('retry-after')).toBe('3')
    expect((await dispatch(body)).headers.get('retry-after')).toBe('1')
    const primary = await dispatch(body)
    expect(primary.status).toBe(403)
    expect(primary.headers.get('x-ratelimit-remaining')).toBe('0')
    expect(Number(primary.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000)
    expect(standin!.runs).toHaveLength(1)
    expect((await dispatch(body)).status).toBe(504)
    expect(standin!.runs).toHaveLength(2)
    expect((await get('/repos/octo/primes/actions/runs')).status).toBe(503)
    expect((await dispatch(body)).status).toBe(200)
  })

  it('runs the sample workflow as a self-hosted runner: hooks around the steps, GITHUB_* set, inputs in the event file, parameters through env:', async () => {
    work = await mkdtemp(join(tmpdir(), 'zkrunner-ghs-'))
    const record = join(work, 'record.sh')
    // Stands in for zkrunner-agent: the hooks and the wrapper shell write what they were given.
    await writeFile(
      record,
      '#!/bin/sh\nout="$(dirname "$0")/$1.log"; shift\n{ echo "args=$*"; env | grep -E "^(GITHUB_|RUNNER_|LIMIT|OPT|ZKRUNNER_)" | sort; cat "$GITHUB_EVENT_PATH"; echo; } >> "$out"\n[ "$#" -eq 0 ] || exec "$@"\n',
    )
    await chmod(record, 0o755)
    const git = ['git', '-c', 'user.name=t', '-c', 'user.email=t@t']
    const { execFileSync } = await import('node:child_process')
    const src = join(work, 'src')
    execFileSync('git', ['init', '-q', src])
    await writeFile(join(src, 'hello.txt'), 'hi\n')
    execFileSync(git[0]!, [...git.slice(1), '-C', src, 'add', '.'])
    execFileSync(git[0]!, [...git.slice(1), '-C', src, 'commit', '-qm', 'one'])
    const sha = execFileSync('git', ['-C', src, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim()
    const workflow = {
      ...sample,
      shell: `${record} step bash -e {0}`,
      steps: [sample.steps[0]!, { run: 'cat hello.txt; echo "limit=$LIMIT opt=$OPT"', env: {} }],
    }
    await start({
      repos: [{ ...repo, sha }],
      runJob: (ctx) =>
        runAsSelfHostedRunner(
          {
            workDir: work!,
            checkoutFrom: src,
            hooks: { started: [record, 'started'], completed: [record, 'completed'] },
            env: { PATH: process.env.PATH, HOME: work, ZKRUNNER_DATA_DIR: '/runner/data' },
          },
          workflow,
          ctx,
        ),
    })
    const res = await dispatch({ ref: 'main', inputs, return_run_details: true })
    const { workflow_run_id: id } = (await res.json()) as { workflow_run_id: number }
    await standin!.idle()
    const run = standin!.runs[0]!
    expect(run.conclusion, run.jobs[0]!.log).toBe('success')
    expect(run.jobs[0]!.log).toContain('hi\nlimit=100 opt=O2\n')
    const started = await readFile(join(work, 'started.log'), 'utf8')
    const step = await readFile(join(work, 'step.log'), 'utf8')
    const completed = await readFile(join(work, 'completed.log'), 'utf8')
    for (const text of [started, step, completed]) {
      expect(text).toContain(`GITHUB_RUN_ID=${id}`)
      expect(text).toContain(`GITHUB_SHA=${sha}`)
      expect(text).toContain('GITHUB_REPOSITORY=octo/primes')
      expect(text).toContain('GITHUB_EVENT_NAME=workflow_dispatch')
      expect(text).toContain('GITHUB_WORKFLOW=zkrunner sample-primes')
      expect(text).toContain(`"ZKRUNNER_JOB_ID":"${jobId}"`)
      // The declared default is in the event too, as GitHub fills it in.
      expect(text).toContain('"OPT":"O2"')
    }
    expect(step).toMatch(/^args=bash -e .*\.sh$/m)
    expect(step).toMatch(/^LIMIT=100$/m)
    // The job env of the workflow does not reach the hooks' own arguments; the step saw it.
    expect(started).not.toMatch(/^LIMIT=/m)
    // The run page is on the stand-in's own origin.
    expect((await fetch(`${standin!.url}/octo/primes/actions/runs/${id}`)).status).toBe(200)
  })

  it("kills what a job left running at its end, by the job's RUNNER_TRACKING_ID, as GitHub's runner does", async () => {
    work = await mkdtemp(join(tmpdir(), 'zkrunner-ghs-'))
    // A step that leaves a process in a session of its own (out of the step's process group).
    // The step ends only once setsid has become sleep: on a fast machine the job could end,
    // and the runner name the orphan, between the fork and the exec.
    const run = [
      'setsid sleep 600 </dev/null >/dev/null 2>&1 &',
      'echo "orphan=$!"',
      'until [ "$(cat /proc/$!/comm)" = sleep ]; do sleep 0.01; done',
    ].join('\n')
    const workflow = { ...sample, shell: 'bash -e {0}', steps: [{ run, env: {} }] }
    await start({
      runJob: (ctx) =>
        runAsSelfHostedRunner(
          { workDir: work!, checkoutFrom: work!, env: { PATH: process.env.PATH, HOME: work } },
          workflow,
          ctx,
        ),
    })
    expect((await dispatch({ ref: 'main', inputs })).status).toBe(204)
    await standin!.idle()
    const log = standin!.runs[0]!.jobs[0]!.log
    const orphan = Number(/orphan=(\d+)/.exec(log)?.[1])
    expect(orphan, log).toBeGreaterThan(1)
    expect(log).toContain(
      `Cleaning up orphan processes\nTerminate orphan process: pid (${orphan}) (sleep)\n`,
    )
    // Gone, or a zombie waiting for its reaper: not running either way.
    const stat = await readFile(`/proc/${orphan}/stat`, 'utf8').catch(() => null)
    expect(stat === null || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')).toBe(true)
  })
})

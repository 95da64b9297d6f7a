import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { verify } from '@octokit/webhooks-methods'
import { afterEach, describe, expect, it } from 'vitest'
import { GithubClient } from '../worker/providers/github/client.ts'
import {
  statusOf,
  WorkflowJobSchema,
  WorkflowRunSchema,
} from '../worker/providers/github/events.ts'
import { parseExactJson } from '../worker/providers/github/exact-json.ts'
import { startGithubStandin } from './server.ts'
import type { GithubStandin, GithubStandinOptions } from './types.ts'

// The Worker's own GitHub client against the stand-in: both follow GitHub's documented REST API,
// so each checks the other's reading of it.

const jobId = 'cd'.repeat(16)
const inputs = { ZKRUNNER_JOB_ID: jobId, LIMIT: '5' }
let standin: GithubStandin | undefined
afterEach(async () => {
  await standin?.close()
  standin = undefined
})

async function setUp(o: Partial<GithubStandinOptions> = {}) {
  standin = await startGithubStandin({
    autoRun: false,
    repos: [
      {
        id: 4242,
        owner: 'octo',
        name: 'primes',
        tokens: ['github_pat_ok'],
        workflows: [
          {
            id: 7,
            file: 'zkrunner.yml',
            name: 'zkrunner',
            runName: `zkrunner \${{ inputs.ZKRUNNER_JOB_ID }}`,
            inputs: { ZKRUNNER_JOB_ID: { required: true }, LIMIT: {} },
            jobName: 'test',
          },
        ],
      },
    ],
    ...o,
  })
  // GitHub Enterprise Server's API base, as the Worker derives it from a non-github.com origin.
  return new GithubClient({ apiUrl: `${standin.url}/api/v3`, token: 'github_pat_ok' })
}
const dispatch = (client: GithubClient, extra: Record<string, string> = {}) =>
  client.dispatch({
    repository: 'octo/primes',
    workflow: 'zkrunner.yml',
    ref: 'main',
    inputs: { ...inputs, ...extra },
  })

describe("the Worker's GitHub client against the stand-in", () => {
  it('gets the 64-bit run id exactly, or finds the run by its run-name after a 204', async () => {
    const client = await setUp()
    const created = await dispatch(client)
    expect(created).toEqual({
      kind: 'created',
      runId: String(standin!.runs[0]!.id),
      htmlUrl: `${standin!.url}/octo/primes/actions/runs/${standin!.runs[0]!.id}`,
    })
    standin!.setDispatchAnswer('reject-field')
    const since = new Date(Date.now() - 2000)
    expect(await dispatch(client)).toEqual({ kind: 'dispatched' })
    expect(standin!.runs).toHaveLength(2)
    const listed = await client.listDispatchedRuns({
      repository: 'octo/primes',
      workflow: 'zkrunner.yml',
      ref: 'main',
      createdAfter: since,
    })
    expect(listed).toEqual({
      ok: true,
      value: standin!.runs
        .map((r) => ({
          id: String(r.id),
          display_title: `zkrunner ${jobId}`,
          html_url: `${standin!.url}/octo/primes/actions/runs/${r.id}`,
          repository_id: 4242,
        }))
        .reverse(),
    })
  })

  it("answers the runner's signer: a run's jobs with their runner, one job at a time on a one-slot runner", async () => {
    let seen: unknown
    let client!: GithubClient
    let second!: Promise<string>
    client = await setUp({
      autoRun: true,
      runnerName: 'rack-1',
      runnerSlots: 1,
      runJob: async ({ run }) => {
        if (seen === undefined) {
          // While the first job runs here, a second run is dispatched and waits for the runner.
          second = dispatch(client).then((d) => (d.kind === 'created' ? d.runId : ''))
          const other = await second
          seen = {
            run: await client.getRun({ repository: 'octo/primes', runId: String(run.id) }),
            jobs: await client.listRunJobs({ repository: 'octo/primes', runId: String(run.id) }),
            queued: await client.listRunJobs({ repository: 'octo/primes', runId: other }),
          }
        }
        return { conclusion: 'success' }
      },
    })
    const first = await dispatch(client)
    await standin!.idle()
    const id = first.kind === 'created' ? first.runId : ''
    expect(seen).toEqual({
      run: { ok: true, value: { id, display_title: `zkrunner ${jobId}`, status: 'in_progress' } },
      jobs: {
        ok: true,
        value: [
          {
            id: expect.any(String),
            status: 'in_progress',
            runner_name: 'rack-1',
            runner_id: '1',
          },
        ],
      },
      queued: {
        ok: true,
        value: [{ id: expect.any(String), status: 'queued', runner_name: null, runner_id: null }],
      },
    })
    // The second ran once the first was done.
    expect(standin!.runs.map((r) => r.conclusion)).toEqual(['success', 'success'])
    expect(await client.listRunJobs({ repository: 'octo/primes', runId: '1' })).toEqual({
      ok: false,
      reason: 'HTTP 404',
    })
  })

  it('classifies the faults as the Worker must: ambiguous, rate-limited (both kinds), rejected', async () => {
    const client = await setUp({
      faults: {
        dispatch: [
          { status: 502, created: true },
          { status: 403, retryAfter: 2 },
          { status: 403, resetIn: 30 },
        ],
      },
    })
    expect(await dispatch(client)).toMatchObject({ kind: 'ambiguous' })
    expect(await dispatch(client)).toEqual({ kind: 'rate-limited', retryAfterMs: 2000 })
    const primary = await dispatch(client)
    expect(primary.kind).toBe('rate-limited')
    expect(primary.kind === 'rate-limited' && primary.retryAfterMs).toBeGreaterThan(25_000)
    expect(await dispatch(client, { UNDECLARED: 'x' })).toEqual({ kind: 'rejected', status: 422 })
    expect(standin!.runs).toHaveLength(1)
  })

  it("sends deliveries the Worker's schema reads and @octokit/webhooks-methods verifies", async () => {
    const raw: { event: string; body: string; signature: string }[] = []
    const sink = createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        raw.push({
          event: String(req.headers['x-github-event']),
          body,
          signature: String(req.headers['x-hub-signature-256']),
        })
        res.end('{}')
      })
    })
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
    try {
      const client = await setUp({
        autoRun: true,
        webhookUrl: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`,
        webhookSecret: 'hook-secret',
      })
      const created = await dispatch(client)
      await standin!.idle()
      const statuses: string[] = []
      for (const d of raw) {
        expect(await verify('hook-secret', d.body, d.signature)).toBe(true)
        expect(await verify('other-secret', d.body, d.signature)).toBe(false)
        const json = parseExactJson(d.body)
        if (d.event === 'workflow_run') {
          const run = WorkflowRunSchema.parse(json)
          expect(created.kind === 'created' && run.workflow_run.id).toBe(
            created.kind === 'created' && created.runId,
          )
          expect(run.workflow_run.display_title).toBe(`zkrunner ${jobId}`)
          expect(run.repository.id).toBe('4242')
          statuses.push(
            `run:${statusOf('run', run.workflow_run.status, run.workflow_run.conclusion)}`,
          )
        } else {
          const job = WorkflowJobSchema.parse(json)
          statuses.push(
            `job:${statusOf('job', job.workflow_job.status, job.workflow_job.conclusion)}`,
          )
        }
      }
      expect(statuses.at(-1)).toMatch(/^run:/)
      expect(statuses.filter((x) => x.startsWith('run:')).at(-1)).toBe(
        `run:${statusOf('run', 'completed', 'success')}`,
      )
      expect(raw).toHaveLength(6)
    } finally {
      sink.close()
    }
  })
})

import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { GitlabClient } from '../worker/providers/gitlab/client.ts'
import { startGitlabStandin } from './server.ts'
import type { GitlabStandin } from './types.ts'

const project = { id: 7, triggerTokens: ['glptt-secret'], accessTokens: ['glpat-read'] }
const read = { 'private-token': 'glpat-read' }
let standin: GitlabStandin | undefined
let hookServer: ReturnType<typeof createServer> | undefined

afterEach(async () => {
  await standin?.close()
  await new Promise((r) => (hookServer ? hookServer.close(r) : r(undefined)))
  standin = undefined
  hookServer = undefined
})

async function hookSink(): Promise<{
  url: string
  hooks: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[]
}> {
  const hooks: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = []
  hookServer = createServer((req, res) => {
    let text = ''
    req.on('data', (c) => (text += c))
    req.on('end', () => {
      hooks.push({ headers: req.headers, body: JSON.parse(text) })
      res.end('{}')
    })
  })
  await new Promise<void>((r) => hookServer!.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`, hooks }
}

const trigger = (url: string, body: string, type = 'application/x-www-form-urlencoded') =>
  fetch(`${url}/api/v4/projects/7/trigger/pipeline`, {
    method: 'POST',
    headers: { 'content-type': type },
    body,
  })

describe('gitlab stand-in', () => {
  it('triggers a pipeline from a form, runs it and sends the documented webhooks', async () => {
    const sink = await hookSink()
    standin = await startGitlabStandin({
      projects: [project],
      webhookUrl: sink.url,
      webhookSecret: 'hook-secret',
    })
    const res = await trigger(
      standin.url,
      'token=glptt-secret&ref=main&variables[ZKRUNNER_JOB_ID]=job-1&variables[N]=3',
    )
    expect(res.status).toBe(201)
    const pipeline = (await res.json()) as Record<string, unknown>
    expect(pipeline).toMatchObject({ project_id: 7, ref: 'main', source: 'trigger', iid: 1 })
    expect(pipeline.web_url).toMatch(/\/-\/pipelines\/\d+$/)
    await standin.idle()

    const statuses = sink.hooks
      .filter((h) => h.headers['x-gitlab-event'] === 'Pipeline Hook')
      .map((h) => (h.body.object_attributes as { status: string }).status)
    expect(statuses).toEqual(['pending', 'running', 'success'])
    const jobHooks = sink.hooks.filter((h) => h.headers['x-gitlab-event'] === 'Job Hook')
    expect(jobHooks.map((h) => h.body.build_status)).toEqual(['pending', 'running', 'success'])
    expect(jobHooks[0]?.body).toMatchObject({ object_kind: 'build', pipeline_id: pipeline.id })
    for (const h of sink.hooks) {
      expect(h.headers['x-gitlab-token']).toBe('hook-secret')
      expect(h.headers['idempotency-key']).toBe(h.headers['x-gitlab-event-uuid'])
    }
    const last = sink.hooks.at(-1)?.body.object_attributes as Record<string, unknown>
    expect(last.variables).toContainEqual({ key: 'ZKRUNNER_JOB_ID', value: 'job-1' })
    expect(last.finished_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/)
  })

  it('accepts JSON, keeps variables readable and lists pipelines by source and time', async () => {
    standin = await startGitlabStandin({ projects: [project], autoRun: false })
    const before = new Date(Date.now() - 1000).toISOString()
    const res = await trigger(
      standin.url,
      JSON.stringify({ token: 'glptt-secret', ref: 'v1', variables: { ZKRUNNER_JOB_ID: 'j2' } }),
      'application/json',
    )
    const { id } = (await res.json()) as { id: number }
    const api = `${standin.url}/api/v4/projects/7`
    const vars = await fetch(`${api}/pipelines/${id}/variables`, { headers: read })
    expect(await vars.json()).toEqual([
      { variable_type: 'env_var', key: 'ZKRUNNER_JOB_ID', value: 'j2', raw: false },
    ])
    const list = await fetch(`${api}/pipelines?source=trigger&updated_after=${before}`, {
      headers: read,
    })
    expect(((await list.json()) as { id: number }[]).map((p) => p.id)).toEqual([id])
    const later = await fetch(
      `${api}/pipelines?updated_after=${new Date(Date.now() + 5000).toISOString()}`,
      {
        headers: read,
      },
    )
    expect(await later.json()).toEqual([])
    const jobs = (await (await fetch(`${api}/pipelines/${id}/jobs`, { headers: read })).json()) as {
      id: number
    }[]
    const trace = await fetch(`${api}/jobs/${jobs[0]?.id}/trace`, { headers: read })
    expect(trace.status).toBe(200)
    expect((await fetch(`${api}/pipelines`)).status).toBe(401)
  })

  it('rejects a wrong trigger token and a missing ref like GitLab', async () => {
    standin = await startGitlabStandin({ projects: [project] })
    expect((await trigger(standin.url, 'token=nope&ref=main')).status).toBe(404)
    expect((await trigger(standin.url, 'token=glptt-secret')).status).toBe(400)
    expect(standin.pipelines).toHaveLength(0)
  })

  it('plays scripted faults: 500, 429 with Retry-After, and a hang after creating', async () => {
    standin = await startGitlabStandin({
      projects: [project],
      autoRun: false,
      faults: { trigger: [{ status: 500 }, { status: 429, retryAfter: 2 }, { hangMs: 50 }] },
    })
    const form = 'token=glptt-secret&ref=main'
    expect((await trigger(standin.url, form)).status).toBe(500)
    const limited = await trigger(standin.url, form)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('2')
    expect(standin.pipelines).toHaveLength(0)
    const hung = await trigger(standin.url, form)
    expect(hung.status).toBe(504)
    expect(standin.pipelines).toHaveLength(1)
    expect((await trigger(standin.url, form)).status).toBe(201)
    expect(standin.triggerRequests()).toBe(4)
  })

  it('reports a failed job through runJob', async () => {
    standin = await startGitlabStandin({
      projects: [project],
      runJob: async ({ variables }) => ({ status: 'failed', trace: `ran ${variables.X}` }),
    })
    await trigger(standin.url, 'token=glptt-secret&ref=main&variables[X]=1')
    await standin.idle()
    expect(standin.pipelines[0]?.status).toBe('failed')
    expect(standin.pipelines[0]?.jobs[0]?.trace).toBe('ran 1')
  })

  it('refuses the next jobs for quota on demand, as GitLab does when CI minutes run out', async () => {
    const sink = await hookSink()
    let ran = 0
    standin = await startGitlabStandin({
      projects: [project],
      webhookUrl: sink.url,
      faults: { quota: 1 },
      runJob: async () => {
        ran++
        return { status: 'success' }
      },
    })
    await trigger(standin.url, 'token=glptt-secret&ref=main&variables[ZKRUNNER_JOB_ID]=job-q')
    await standin.idle()
    const jobHooks = sink.hooks.filter((h) => h.headers['x-gitlab-event'] === 'Job Hook')
    expect(jobHooks.map((h) => [h.body.build_status, h.body.build_failure_reason])).toEqual([
      ['pending', 'unknown_failure'],
      ['failed', 'ci_quota_exceeded'],
    ])
    expect(ran).toBe(0)
    expect(standin.pipelines[0]?.jobs[0]).toMatchObject({ status: 'failed', started_at: null })
    // One refusal was asked for: the next pipeline runs.
    await trigger(standin.url, 'token=glptt-secret&ref=main')
    await standin.idle()
    expect(ran).toBe(1)
    expect(standin.pipelines[1]?.status).toBe('success')
  })

  it("names the runner of a started job in the jobs API (what the runner's signer reads)", async () => {
    let during: unknown
    const client = () => new GitlabClient({ baseUrl: standin!.url })
    standin = await startGitlabStandin({
      projects: [project],
      runner: { id: 42, description: 'rack-1' },
      runJob: async ({ pipeline }) => {
        during = await client().pipelineJobs({
          project: '7',
          apiToken: 'glpat-read',
          pipelineId: pipeline.id,
        })
        return { status: 'success' }
      },
    })
    const res = await trigger(standin.url, 'token=glptt-secret&ref=main')
    const { id } = (await res.json()) as { id: number }
    await standin.idle()
    expect(during).toMatchObject({
      ok: true,
      value: [{ status: 'running', runner: { id: 42, description: 'rack-1' } }],
    })
    const after = await client().pipelineJobs({
      project: '7',
      apiToken: 'glpat-read',
      pipelineId: id,
    })
    expect(after).toMatchObject({ ok: true, value: [{ status: 'success', runner: { id: 42 } }] })
    // Another token reads nothing.
    expect(
      await client().pipelineJobs({ project: '7', apiToken: 'glpat-wrong', pipelineId: id }),
    ).toMatchObject({ ok: false })
  })

  it("lists a runner's running jobs (GET /runners/:id/jobs?status=running), in projects the token reads", async () => {
    let during: unknown
    const client = () => new GitlabClient({ baseUrl: standin!.url })
    standin = await startGitlabStandin({
      projects: [project],
      runner: { id: 42, description: 'rack-1' },
      runJob: async () => {
        during = await client().runnerJobs({
          runnerId: '42',
          apiToken: 'glpat-read',
          status: 'running',
        })
        return { status: 'success' }
      },
    })
    const res = await trigger(standin.url, 'token=glptt-secret&ref=main')
    const { id } = (await res.json()) as { id: number }
    await standin.idle()
    expect(during).toMatchObject({
      ok: true,
      value: [
        {
          status: 'running',
          runner: { id: 42 },
          pipeline: { id, project_id: 7 },
          project: { id: 7 },
        },
      ],
    })
    // Once the job is over, none is running; another runner id or token reads nothing.
    expect(
      await client().runnerJobs({ runnerId: '42', apiToken: 'glpat-read', status: 'running' }),
    ).toEqual({ ok: true, value: [] })
    expect(
      await client().runnerJobs({ runnerId: '43', apiToken: 'glpat-read', status: 'running' }),
    ).toMatchObject({ ok: false, reason: 'HTTP 404' })
    expect(
      await client().runnerJobs({ runnerId: '42', apiToken: 'glpat-wrong', status: 'running' }),
    ).toMatchObject({ ok: false, reason: 'HTTP 401' })
  })
})

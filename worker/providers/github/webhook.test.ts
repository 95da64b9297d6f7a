import examples from '@octokit/webhooks-examples'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TEST_WEBHOOK_SECRET } from '../../test-support/constants.ts'
import {
  call,
  fundedUser,
  githubSignature,
  postJson,
  registeredService,
  sealedJob,
  type TestService,
  testEnv,
} from '../../test-support/fixtures.ts'
import { statusOf } from './events.ts'
import { verifySignature } from './signature.ts'

interface JobView {
  status: string
  updatedAt: string
  pipeline: { id: number | string; webUrl: string | null } | null
  history: { status: string; source: string; detail?: string }[]
}
const jobOf = async (jobId: string) => (await (await call(`/v1/jobs/${jobId}`)).json()) as JobView

async function githubJob(): Promise<{ service: TestService; jobId: string; runId: string }> {
  const service = await registeredService({ provider: 'github' })
  const user = await fundedUser(service, 100n)
  const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
  const body = (await (await postJson('/v1/jobs', envelope)).json()) as {
    jobId: string
    pipelineId: string
  }
  return { service, jobId: body.jobId, runId: body.pipelineId }
}

const deliver = (
  body: string,
  headers: { event?: string; delivery?: string; signature?: string | null },
) =>
  call('/v1/github/webhook', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': headers.event ?? 'workflow_run',
      'x-github-delivery': headers.delivery ?? crypto.randomUUID(),
      ...(headers.signature === null ? {} : { 'x-hub-signature-256': headers.signature ?? '' }),
    },
    body,
  })

const signed = async (body: string, event = 'workflow_run', delivery?: string) =>
  deliver(body, {
    event,
    ...(delivery ? { delivery } : {}),
    signature: await githubSignature(TEST_WEBHOOK_SECRET, body),
  })

const runEvent = (jobId: string, runId: string, service: TestService, status = 'in_progress') =>
  `{"action":"in_progress","workflow_run":{"id":${runId},"display_title":"zkrunner ${jobId}","status":"${status}","conclusion":null,"html_url":"https://github.com/${service.descriptor.project}/actions/runs/${runId}"},"repository":{"id":777,"full_name":"${service.descriptor.project}"}}`

/** The fields of the examples the tests rewrite (the rest is sent as the example has it). */
interface Example {
  workflow_run: {
    id: number
    display_title?: string
    status: Parameters<typeof statusOf>[1]
    conclusion?: Parameters<typeof statusOf>[2]
  }
  workflow_job: { run_id: number }
  repository: { id: number; full_name: string }
}
const examplesOf = (name: string): Example[] =>
  (
    (examples as unknown as { name: string; examples: unknown[] }[]).find((e) => e.name === name)
      ?.examples ?? []
  ).map((e) => structuredClone(e) as Example)

describe('GitHub webhook signatures', () => {
  it("verifies GitHub's documented vector", async () => {
    const vector = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'
    expect(await githubSignature("It's a Secret to Everybody", 'Hello, World!')).toBe(vector)
    expect(await verifySignature("It's a Secret to Everybody", 'Hello, World!', vector)).toBe(true)
    expect(await verifySignature("It's a Secret to Everybody", 'Hello, World!!', vector)).toBe(
      false,
    )
    expect(await verifySignature('another secret!!', 'Hello, World!', vector)).toBe(false)
    for (const bad of [vector.slice(0, -2), `${vector}00`, vector.toUpperCase(), 'sha1=757107', ''])
      expect(await verifySignature("It's a Secret to Everybody", 'Hello, World!', bad)).toBe(false)
  })

  it('wrong, missing or truncated signatures are 401 and change nothing', async () => {
    const { service, jobId, runId } = await githubJob()
    const before = await jobOf(jobId)
    const body = runEvent(jobId, runId, service)
    const good = await githubSignature(TEST_WEBHOOK_SECRET, body)
    const attempts = [
      null,
      '',
      good.slice(0, -1),
      good.slice(0, 20),
      `${good.slice(0, -1)}${good.endsWith('0') ? '1' : '0'}`,
      await githubSignature(`${TEST_WEBHOOK_SECRET}x`, body),
      await githubSignature(TEST_WEBHOOK_SECRET, `${body} `),
      good.replace('sha256=', 'sha1='),
    ]
    for (const signature of attempts) {
      const res = await deliver(body, { signature })
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
    }
    expect(await jobOf(jobId)).toEqual(before)
    // The genuine delivery still applies: nothing above used up its delivery id or the job.
    const ok = await signed(body)
    expect(await ok.json()).toEqual({ accepted: true })
    expect((await jobOf(jobId)).status).toBe('running')
  })

  it('another repository, signed with the right secret, is 403 and changes nothing', async () => {
    const { service, jobId, runId } = await githubJob()
    const before = await jobOf(jobId)
    const body = runEvent(jobId, runId, service).replace(
      `"full_name":"${service.descriptor.project}"`,
      '"full_name":"evil/repo"',
    )
    const res = await signed(body)
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error: { code: 'wrong_project' } })
    expect(await jobOf(jobId)).toEqual(before)
  })

  it('unknown events and runs that are not zkrunner jobs are 200 { accepted: false }', async () => {
    for (const [event, body] of [
      ['ping', '{"zen":"Keep it logically awesome."}'],
      ['push', '{}'],
      ['workflow_dispatch', JSON.stringify(examplesOf('workflow_dispatch')[0])],
    ] as const) {
      const res = await signed(body, event)
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ accepted: false })
    }
  })
})

describe('GitHub webhook payloads (@octokit/webhooks-examples)', () => {
  it('maps every real workflow_run example; unrelated ones are not accepted', async () => {
    const runs = examplesOf('workflow_run')
    expect(runs.length).toBeGreaterThan(0)
    for (const example of runs) {
      const res = await signed(JSON.stringify(example))
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ accepted: false })
    }
    for (const example of runs) {
      // The same real payload, as GitHub would send it for a zkrunner run of this service.
      const { service, jobId, runId } = await githubJob()
      example.workflow_run.display_title = `zkrunner ${jobId}`
      example.repository.full_name = service.descriptor.project
      const text = JSON.stringify(example).replace(
        `"id":${example.workflow_run.id},`,
        `"id":${runId},`,
      )
      const res = await signed(text)
      expect(await res.json()).toEqual({ accepted: true })
      const view = await jobOf(jobId)
      const expected = statusOf(
        'run',
        example.workflow_run.status,
        example.workflow_run.conclusion ?? null,
      )
      expect(view.status).toBe(expected)
      expect(
        view.history.at(-1)?.source === 'github' || view.history.some((e) => e.source === 'github'),
      ).toBe(true)
      expect(String(view.pipeline?.id)).toBe(runId)
    }
  })

  it('maps the status table: GitHub conclusions onto job statuses', () => {
    expect(statusOf('run', 'requested', null)).toBe('pending')
    expect(statusOf('run', 'in_progress', null)).toBe('running')
    expect(statusOf('run', 'completed', 'success')).toBe('success')
    expect(statusOf('run', 'completed', 'failure')).toBe('failed')
    expect(statusOf('run', 'completed', 'timed_out')).toBe('failed')
    expect(statusOf('run', 'completed', 'cancelled')).toBe('canceled')
    expect(statusOf('run', 'completed', 'skipped')).toBe('skipped')
    expect(statusOf('job', 'waiting', null)).toBe('waiting_for_resource')
  })

  it('routes real workflow_job examples to the job of their run, as history', async () => {
    const jobs = examplesOf('workflow_job')
    expect(jobs.length).toBeGreaterThan(0)
    for (const example of jobs) {
      const res = await signed(JSON.stringify(example), 'workflow_job')
      expect(await res.json()).toMatchObject({ accepted: false })
    }
    const { service, jobId, runId } = await githubJob()
    // The run pointer is written after the trigger's answer: wait for it, not for a time.
    const pointer = testEnv.JOBS.get(
      testEnv.JOBS.idFromName(`github-run:${service.descriptor.project.toLowerCase()}:${runId}`),
    )
    while ((await pointer.get()) === null) await scheduler.wait(1)
    const before = await jobOf(jobId)
    for (const example of jobs) {
      // The examples come from several repositories: here they are all this service's one.
      example.repository.full_name = service.descriptor.project
      example.repository.id = 777
      const text = JSON.stringify(example).replace(
        `"run_id":${example.workflow_job.run_id}`,
        `"run_id":${runId}`,
      )
      const res = await signed(text, 'workflow_job')
      expect(await res.json()).toEqual({ accepted: true })
    }
    const after = await jobOf(jobId)
    // Job-level events are history: the run's status is the run's (workflow_run) to move.
    expect(after.status).toBe(before.status)
    expect(after.history.filter((e) => e.source === 'github')).toHaveLength(jobs.length)
  })
})

describe('fuzz: the GitHub webhook never answers 5xx', () => {
  const RUNS = 10_000
  it(`POST /v1/github/webhook (${RUNS} bodies and headers)`, { timeout: 600_000 }, async () => {
    const { service, jobId, runId } = await githubJob()
    const real = [...examplesOf('workflow_run'), ...examplesOf('workflow_job')]
    const payload = fc.oneof(
      fc.constantFrom(...real).map((e) => JSON.stringify(e)),
      fc
        .record(
          {
            action: fc.oneof(fc.constantFrom('completed', 'in_progress', 'requested'), fc.string()),
            workflow_run: fc.record(
              {
                id: fc.oneof(
                  fc.constant(runId),
                  fc.bigInt({ min: 0n, max: 2n ** 70n }),
                  fc.string(),
                ),
                display_title: fc.oneof(
                  fc.constant(`zkrunner ${jobId}`),
                  fc.string().map((s) => `zkrunner ${s}`),
                  fc.string(),
                ),
                status: fc.oneof(
                  fc.constantFrom('completed', 'in_progress', 'queued'),
                  fc.string(),
                ),
                conclusion: fc.oneof(fc.constantFrom('success', 'failure', null), fc.string()),
                html_url: fc.oneof(fc.webUrl(), fc.string()),
              },
              { requiredKeys: [] },
            ),
            workflow_job: fc.record(
              {
                id: fc.oneof(fc.nat(), fc.string()),
                run_id: fc.oneof(fc.constant(runId), fc.nat(), fc.string()),
                name: fc.string(),
                status: fc.oneof(fc.constantFrom('completed', 'queued'), fc.string()),
                conclusion: fc.oneof(fc.constant(null), fc.string()),
              },
              { requiredKeys: [] },
            ),
            repository: fc.record(
              {
                id: fc.oneof(fc.nat(), fc.string()),
                full_name: fc.oneof(fc.constant(service.descriptor.project), fc.string()),
              },
              { requiredKeys: [] },
            ),
          },
          { requiredKeys: [] },
        )
        .map((v) =>
          JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `__big${x}` : x)).replace(
            /"__big(\d+)"/g,
            '$1',
          ),
        ),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 200 }),
    )
    const headers = fc.record({
      event: fc.oneof(
        fc.constantFrom('workflow_run', 'workflow_job', 'ping', ''),
        fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
      ),
      delivery: fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme-ascii', maxLength: 80 })),
      signing: fc.constantFrom('right', 'wrong-secret', 'garbage', 'none'),
      garbage: fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
    })
    const fresh = await jobOf(jobId)
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(payload, headers, async (body, h) => {
        const signature =
          h.signing === 'right'
            ? await githubSignature(TEST_WEBHOOK_SECRET, body)
            : h.signing === 'wrong-secret'
              ? await githubSignature('not the service secret!', body)
              : h.signing === 'garbage'
                ? h.garbage
                : null
        const init: RequestInit = {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(h.event ? { 'x-github-event': h.event } : {}),
            ...(h.delivery ? { 'x-github-delivery': h.delivery } : {}),
            ...(signature !== null ? { 'x-hub-signature-256': signature } : {}),
          },
          body,
        }
        let res: Response
        try {
          res = await call('/v1/github/webhook', init)
        } catch {
          // A header value the Request constructor refuses never reaches the Worker.
          return
        }
        const text = await res.text()
        expect(res.status, text).toBeLessThan(500)
        expect(res.headers.get('content-type')).toContain('application/json')
        const parsed = JSON.parse(text) as { accepted?: boolean; error?: { code?: unknown } }
        if (res.status >= 400) expect(typeof parsed.error?.code).toBe('string')
        if (parsed.accepted === true) {
          accepted++
          expect(h.signing).toBe('right')
        }
      }),
      { numRuns: RUNS },
    )
    // Every accepted delivery was correctly signed (checked above), and each left its event.
    const after = await jobOf(jobId)
    expect(after.history.filter((e) => e.source === 'github').length).toBeGreaterThanOrEqual(
      accepted,
    )
    expect(after.history.length).toBeGreaterThanOrEqual(fresh.history.length)
  })
})

import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { TEST_WEBHOOK_SECRET } from '../test-support/constants.ts'
import {
  call,
  fundedUser,
  githubRunsFor,
  githubSignature,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  setGithubFaults,
  setGitlabFaults,
  type TestService,
  testEnv,
} from '../test-support/fixtures.ts'
import type { ProviderName } from './provider.ts'

/** A planned answer to the next trigger, in the vocabulary both fakes take. */
interface Fault {
  status: number
  created?: boolean
  retryAfter?: number
}

/** What the behaviour suite needs of a provider's fake and webhook: nothing else differs. */
interface Harness {
  setFaults(trigger: Fault[]): Promise<void>
  /** Trigger requests the fake has received (all jobs) and the runs carrying `jobId`. */
  runsFor(jobId: string): Promise<{ requests: number; runs: { id: string }[] }>
  /** The status a refused trigger answers with (GitLab: unknown project; GitHub: bad inputs). */
  refusal: number
  /** Delivers a run-status webhook for the job's run, signed or tokened with `secret`. */
  deliver(
    service: TestService,
    job: { jobId: string; runId: string },
    status: 'running' | 'success',
    options: { secret: string; delivery: string },
  ): Promise<Response>
}

const HARNESSES: Record<ProviderName, Harness> = {
  gitlab: {
    setFaults: (trigger) => setGitlabFaults({ trigger }),
    async runsFor(jobId) {
      const { triggerRequests, pipelines } = await pipelinesFor(jobId)
      return { requests: triggerRequests, runs: pipelines.map((p) => ({ id: String(p.id) })) }
    },
    refusal: 404,
    deliver: (service, job, status, options) =>
      postJson(
        '/v1/gitlab/webhook',
        {
          object_kind: 'pipeline',
          object_attributes: {
            id: Number(job.runId),
            status,
            variables: [
              { key: 'ZKRUNNER_JOB_ID', value: job.jobId },
              { key: 'ZKRUNNER_SERVICE', value: service.address },
            ],
          },
          project: { id: 42 },
        },
        {
          'x-gitlab-token': options.secret,
          'x-gitlab-event': 'Pipeline Hook',
          'x-gitlab-event-uuid': options.delivery,
        },
      ),
  },
  github: {
    setFaults: (trigger) => setGithubFaults({ trigger }),
    async runsFor(jobId) {
      const { dispatchRequests, runs } = await githubRunsFor(jobId)
      return { requests: dispatchRequests, runs }
    },
    refusal: 422,
    async deliver(service, job, status, options) {
      // The run id as GitHub writes it: a bare (64-bit) JSON number.
      const body = `{"action":"${status === 'running' ? 'in_progress' : 'completed'}","workflow_run":{"id":${job.runId},"display_title":"zkrunner ${job.jobId}","status":"${status === 'running' ? 'in_progress' : 'completed'}","conclusion":${status === 'running' ? 'null' : '"success"'},"html_url":"https://github.com/${service.descriptor.project}/actions/runs/${job.runId}"},"repository":{"id":777,"full_name":"${service.descriptor.project}"}}`
      return call('/v1/github/webhook', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'workflow_run',
          'x-github-delivery': options.delivery,
          'x-hub-signature-256': await githubSignature(options.secret, body),
        },
        body,
      })
    },
  },
}

const stubOf = (service: TestService) =>
  testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))

interface JobView {
  status: string
  pipeline: { id: number | string; webUrl: string | null } | null
  history: { status: string; source: string }[]
  charge: { state: string; reason?: string }
}
const jobOf = async (jobId: string) => (await (await call(`/v1/jobs/${jobId}`)).json()) as JobView

describe.each(['gitlab', 'github'] as const)('provider contract: %s', (provider) => {
  const h = HARNESSES[provider]

  async function submit(faults: Fault[] = []) {
    const service = await registeredService({ provider })
    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    await h.setFaults(faults)
    const before = (await h.runsFor(requestId)).requests
    const res = await postJson('/v1/jobs', envelope)
    await h.setFaults([])
    expect(res.status).toBe(202)
    const body = (await res.json()) as { status: string; pipelineId: number | string | null }
    const attempts = (await stubOf(service).attempts(requestId)).map((a) => a.outcome)
    return { service, requestId, envelope, body, attempts, before }
  }

  it('triggers a job once and shows its run', async () => {
    const { requestId, body, attempts } = await submit()
    expect(body.status).toBe('triggered')
    expect(attempts).toEqual(['created'])
    const { runs } = await h.runsFor(requestId)
    expect(runs).toHaveLength(1)
    const job = await jobOf(requestId)
    // Exact ids: GitHub's fake hands out ids above 2^53.
    expect(String(job.pipeline?.id)).toBe(runs[0]!.id)
    expect(String(body.pipelineId)).toBe(runs[0]!.id)
  })

  it('1,000 replays of one request give one trigger', async () => {
    const { requestId, envelope, before } = await submit()
    const statuses: number[] = []
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => postJson('/v1/jobs', envelope)),
      )
      for (const a of answers) {
        statuses.push(a.status)
        await a.body?.cancel()
      }
    }
    expect(statuses.filter((s) => s === 409)).toHaveLength(1000)
    const after = await h.runsFor(requestId)
    expect(after.runs).toHaveLength(1)
    expect(after.requests - before).toBe(1)
  })

  it('after a 5xx that did create the run, finds it and never triggers again', async () => {
    const { requestId, body, attempts, before } = await submit([{ status: 502, created: true }])
    expect(body.status).toBe('triggered')
    expect(attempts).toEqual(['ambiguous'])
    const after = await h.runsFor(requestId)
    expect(after.runs).toHaveLength(1)
    expect(after.requests - before).toBe(1)
    expect(String((await jobOf(requestId)).pipeline?.id)).toBe(after.runs[0]!.id)
  })

  it('a refused trigger is trigger_failed and not charged, without a retry', async () => {
    const { requestId, body, attempts } = await submit([{ status: h.refusal }])
    expect(body.status).toBe('trigger_failed')
    expect(attempts).toEqual(['rejected'])
    expect((await jobOf(requestId)).charge).toMatchObject({
      state: 'not-charged',
      reason: 'trigger-failed',
    })
  })

  it('waits out a rate limit, then triggers', async () => {
    const status = provider === 'github' ? 403 : 429
    const { requestId, body, attempts } = await submit([{ status, retryAfter: 1 }])
    expect(body.status).toBe('triggered')
    expect(attempts).toEqual(['rate-limited', 'created'])
    expect((await h.runsFor(requestId)).runs).toHaveLength(1)
  })

  it('a redelivered webhook changes the status once; a wrong secret changes nothing', async () => {
    const { service, requestId } = await submit()
    const runId = String((await jobOf(requestId)).pipeline?.id)
    const job = { jobId: requestId, runId }
    const wrong = await h.deliver(service, job, 'running', {
      secret: `${TEST_WEBHOOK_SECRET}x`,
      delivery: 'd-0',
    })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ error: { code: 'unauthorized' } })
    expect((await jobOf(requestId)).status).toBe('triggered')
    const delivery = crypto.randomUUID()
    const first = await h.deliver(service, job, 'running', {
      secret: TEST_WEBHOOK_SECRET,
      delivery,
    })
    expect(await first.json()).toEqual({ accepted: true })
    const again = await h.deliver(service, job, 'running', {
      secret: TEST_WEBHOOK_SECRET,
      delivery,
    })
    expect(again.status).toBe(200)
    expect(await again.json()).toEqual({ accepted: false })
    const view = await jobOf(requestId)
    expect(view.status).toBe('running')
    expect(view.history.filter((e) => e.source === provider)).toHaveLength(1)
  })

  it('keeps a job queued behind a long rate limit: the alarm triggers it, once', async () => {
    if (provider === 'gitlab') return
    const service = await registeredService({ provider })
    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    await setGithubFaults({ trigger: [{ status: 403, rateLimitResetIn: 3600 }] })
    const res = await postJson('/v1/jobs', envelope)
    await setGithubFaults({})
    expect(((await res.json()) as { status: string }).status).toBe('queued')
    const stub = stubOf(service)
    const due = await runInDurableObject(stub, (_, state) =>
      state.storage.sql
        .exec<{ at: number }>('SELECT next_attempt_at AS at FROM jobs WHERE job_id = ?', requestId)
        .one(),
    )
    // The wait is GitHub's (x-ratelimit-reset), kept by the alarm rather than a sleep.
    expect(due.at).toBeGreaterThan(Date.now() + 3500_000)
    // The hour passes.
    await runInDurableObject(stub, async (_, state) => {
      state.storage.sql.exec('UPDATE jobs SET next_attempt_at = ? WHERE job_id = ?', 1, requestId)
      await state.storage.setAlarm(Date.now())
    })
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect((await jobOf(requestId)).status).toBe('triggered')
    expect((await githubRunsFor(requestId)).runs).toHaveLength(1)
    expect((await stub.attempts(requestId)).map((a) => a.outcome)).toEqual([
      'rate-limited',
      'created',
    ])
  })
})

import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { TEST_WEBHOOK_SECRET } from './test-support/constants.ts'
import {
  call,
  fundedUser,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  setGitlabFaults,
  type TestService,
  testEnv,
} from './test-support/fixtures.ts'

const stubOf = (service: TestService) =>
  testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))

async function submitWithFaults(faults: unknown, options: { apiToken?: boolean } = {}) {
  const service = await registeredService(options)
  const user = await fundedUser(service, 100n)
  const { envelope, requestId } = await sealedJob(service, user, {
    cumulativeAmount: 10n,
    nonce: 1n,
  })
  await setGitlabFaults(faults)
  const started = Date.now()
  const res = await postJson('/v1/jobs', envelope)
  const elapsed = Date.now() - started
  await setGitlabFaults({})
  expect(res.status).toBe(202)
  const body = (await res.json()) as { jobId: string; status: string }
  const attempts = (await stubOf(service).attempts(requestId)).map((a) => a.outcome)
  return { service, requestId, body, attempts, elapsed }
}

describe('GitLab faults', () => {
  it('retries after a 500 that created nothing: looks first, then triggers once', async () => {
    const { requestId, body, attempts } = await submitWithFaults({ trigger: [{ status: 500 }] })
    expect(body.status).toBe('triggered')
    expect(attempts).toEqual(['ambiguous', 'created'])
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)
  })

  it('finds the pipeline a 500 did create, and does not trigger again', async () => {
    const { requestId, body, attempts } = await submitWithFaults({
      trigger: [{ status: 500, created: true }],
    })
    expect(body.status).toBe('triggered')
    expect(attempts).toEqual(['ambiguous'])
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)
  })

  it('honours 429 Retry-After before the next attempt', async () => {
    const { requestId, body, attempts, elapsed } = await submitWithFaults({
      trigger: [{ status: 429, retryAfter: 1 }],
    })
    expect(body.status).toBe('triggered')
    expect(attempts).toEqual(['rate-limited', 'created'])
    expect(elapsed).toBeGreaterThanOrEqual(1000)
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)
  })

  it('treats a timeout as ambiguous and reconciles by the job-id variable', async () => {
    const { requestId, body, attempts } = await submitWithFaults({
      trigger: [{ hangMs: 1500, created: true }],
    })
    expect(body.status).toBe('triggered')
    expect(attempts).toEqual(['ambiguous'])
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)
  })

  it('without an API token to look with, never retries an ambiguous trigger; the webhook settles it', async () => {
    const { service, requestId, body, attempts } = await submitWithFaults(
      { trigger: [{ status: 502, created: true }] },
      { apiToken: false },
    )
    expect(body.status).toBe('trigger_unknown')
    expect(attempts).toEqual(['ambiguous'])
    const [pipeline] = (await pipelinesFor(requestId)).pipelines
    expect(pipeline).toBeDefined()
    const hook = await postJson(
      '/v1/gitlab/webhook',
      {
        object_kind: 'pipeline',
        object_attributes: {
          id: pipeline!.id,
          status: 'running',
          variables: [
            { key: 'ZKRUNNER_JOB_ID', value: requestId },
            { key: 'ZKRUNNER_SERVICE', value: service.address },
          ],
        },
        project: { id: 42 },
      },
      { 'x-gitlab-token': TEST_WEBHOOK_SECRET, 'x-gitlab-event': 'Pipeline Hook' },
    )
    expect(await hook.json()).toEqual({ accepted: true })
    const job = (await (await call(`/v1/jobs/${requestId}`)).json()) as Record<string, unknown>
    expect(job.status).toBe('running')
    expect(job.pipeline).toMatchObject({ id: pipeline!.id, projectId: 42 })
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)
  })

  it('keeps the job queued when GitLab stays down, and the alarm triggers it later, once', async () => {
    const down = Array.from({ length: 8 }, () => ({ status: 503 }))
    const { service, requestId, body, attempts } = await submitWithFaults({ trigger: down })
    expect(body.status).toBe('queued')
    expect(attempts.length).toBeGreaterThan(1)
    expect(attempts.every((a) => a === 'ambiguous')).toBe(true)
    const queued = (await (await call(`/v1/jobs/${requestId}`)).json()) as { status: string }
    expect(queued.status).toBe('queued')
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(0)

    // Let the retry come due (the alarm fires at next_attempt_at in real time).
    await runInDurableObject(stubOf(service), (_instance, state) => {
      state.storage.sql.exec('UPDATE jobs SET next_attempt_at = ?', Date.now())
    })
    expect(await runDurableObjectAlarm(stubOf(service))).toBe(true)
    const job = (await (await call(`/v1/jobs/${requestId}`)).json()) as { status: string }
    expect(job.status).toBe('triggered')
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)
  })

  it('marks a job trigger_failed when GitLab refuses the token, without retrying', async () => {
    const service = await registeredService({ triggerToken: 'glptt-revoked' })
    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const res = await postJson('/v1/jobs', envelope)
    expect(res.status).toBe(202)
    expect(((await res.json()) as { status: string }).status).toBe('trigger_failed')
    expect((await stubOf(service).attempts(requestId)).map((a) => a.outcome)).toEqual(['rejected'])
    const job = (await (await call(`/v1/jobs/${requestId}`)).json()) as {
      history: { status: string; detail?: string }[]
    }
    expect(job.history.find((e) => e.status === 'trigger_failed')).toMatchObject({
      status: 'trigger_failed',
      detail: 'GitLab refused: HTTP 404',
    })
  })

  it('forgets request ids after their expiry by alarm, and still refuses the replay', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    expect((await postJson('/v1/jobs', envelope)).status).toBe(202)
    const count = () =>
      runInDurableObject(
        stubOf(service),
        (_i, state) => state.storage.sql.exec('SELECT COUNT(*) AS n FROM requests').one().n,
      )
    expect(await count()).toBe(1)
    await runInDurableObject(stubOf(service), (_i, state) => {
      state.storage.sql.exec('UPDATE requests SET forget_at = ?', Date.now() - 1)
    })
    expect(await runDurableObjectAlarm(stubOf(service))).toBe(true)
    expect(await count()).toBe(0)
    // The job record outlives the id's entry: a late replay is still a replay.
    const again = await postJson('/v1/jobs', envelope)
    expect(again.status).toBe(409)
  })
})

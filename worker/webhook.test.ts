import { describe, expect, it } from 'vitest'
import { generateMinaKeyPair, sha256, signResultReport, toHex } from '../protocol/index.ts'
import { secretsEqual } from './secrets-equal.ts'
import { TEST_WEBHOOK_SECRET } from './test-support/constants.ts'
import {
  call,
  fundedUser,
  postJson,
  registeredService,
  sealedJob,
  type TestService,
} from './test-support/fixtures.ts'

async function triggeredJob(): Promise<{
  service: TestService
  jobId: string
  pipelineId: number
}> {
  const service = await registeredService()
  const user = await fundedUser(service, 100n)
  const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
  const body = (await (await postJson('/v1/jobs', envelope)).json()) as {
    jobId: string
    pipelineId: number
  }
  return { service, jobId: body.jobId, pipelineId: body.pipelineId }
}

const hook = (event: string, body: unknown, extra: Record<string, string> = {}) =>
  postJson('/v1/gitlab/webhook', body, {
    'x-gitlab-token': TEST_WEBHOOK_SECRET,
    'x-gitlab-event': event,
    ...extra,
  })

const pipelineHook = (jobId: string, service: string, pipelineId: number, status: string) => ({
  object_kind: 'pipeline',
  object_attributes: {
    id: pipelineId,
    status,
    url: `https://gitlab.example.com/p/-/pipelines/${pipelineId}`,
    variables: [
      { key: 'ZKRUNNER_JOB_ID', value: jobId },
      { key: 'ZKRUNNER_SERVICE', value: service },
    ],
  },
  project: { id: 42 },
  builds: [],
})

const jobOf = async (jobId: string) =>
  (await (await call(`/v1/jobs/${jobId}`)).json()) as {
    status: string
    history: { status: string; source: string; detail?: string }[]
    result: Record<string, unknown> | null
  }

describe('POST /v1/gitlab/webhook', () => {
  it('refuses a missing or wrong X-Gitlab-Token with 401', async () => {
    const { service, jobId, pipelineId } = await triggeredJob()
    const body = pipelineHook(jobId, service.address, pipelineId, 'success')
    const missing = await postJson('/v1/gitlab/webhook', body, {
      'x-gitlab-event': 'Pipeline Hook',
    })
    expect(missing.status).toBe(401)
    const wrong = await postJson('/v1/gitlab/webhook', body, {
      'x-gitlab-token': `${TEST_WEBHOOK_SECRET}x`,
      'x-gitlab-event': 'Pipeline Hook',
    })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ error: { code: 'unauthorized' } })
  })

  it('compares secrets by digest: equal, unequal, and of different lengths', async () => {
    expect(await secretsEqual('abc', 'abc')).toBe(true)
    expect(await secretsEqual('abd', 'abc')).toBe(false)
    expect(await secretsEqual('', 'abc')).toBe(false)
  })

  it('moves a job through pipeline events, ignores duplicates and never moves a finished job back', async () => {
    const { service, jobId, pipelineId } = await triggeredJob()
    const running = pipelineHook(jobId, service.address, pipelineId, 'running')
    expect(
      await (await hook('Pipeline Hook', running, { 'idempotency-key': 'k1' })).json(),
    ).toEqual({
      accepted: true,
    })
    expect(
      await (await hook('Pipeline Hook', running, { 'idempotency-key': 'k1' })).json(),
    ).toEqual({
      accepted: false,
    })
    expect((await jobOf(jobId)).status).toBe('running')
    await hook('Pipeline Hook', pipelineHook(jobId, service.address, pipelineId, 'success'))
    await hook('Pipeline Hook', pipelineHook(jobId, service.address, pipelineId, 'running'))
    const job = await jobOf(jobId)
    expect(job.status).toBe('success')
    expect(job.history.map((h) => h.status)).toEqual([
      'queued',
      'triggered',
      'running',
      'success',
      'running',
    ])
  })

  it('routes a Job Hook by its pipeline to the job and records it in the history', async () => {
    const { jobId, pipelineId } = await triggeredJob()
    const res = await hook('Job Hook', {
      object_kind: 'build',
      build_id: 9001,
      build_name: 'zkrunner',
      build_status: 'running',
      pipeline_id: pipelineId,
      project_id: 42,
    })
    expect(await res.json()).toEqual({ accepted: true })
    const job = await jobOf(jobId)
    expect(job.history.at(-1)).toMatchObject({
      status: 'running',
      source: 'gitlab',
      detail: 'job 9001 (zkrunner)',
    })
  })

  it('answers 200 for events that are not ours, 400 for payloads that are not GitLab', async () => {
    const foreign = await hook('Pipeline Hook', {
      object_kind: 'pipeline',
      object_attributes: { id: 1, status: 'running', variables: [] },
    })
    expect(foreign.status).toBe(200)
    expect(await foreign.json()).toMatchObject({ accepted: false })
    const unknownPipeline = await hook('Job Hook', {
      object_kind: 'build',
      build_id: 1,
      build_status: 'running',
      pipeline_id: 987654321,
      project_id: 42,
    })
    expect(unknownPipeline.status).toBe(200)
    expect((await hook('Push Hook', { object_kind: 'push' })).status).toBe(200)
    const bad = await hook('Pipeline Hook', { object_kind: 'pipeline' })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_body' } })
  })
})

describe('POST /v1/jobs/:id/result', () => {
  // The service whose job each test reports on (its address is part of what the runner signs).
  let current: TestService
  const jobToReport = async () => {
    const t = await triggeredJob()
    current = t.service
    return t
  }
  /** A report of `service`'s job, signed by `signer` (the runner's key when genuine). */
  const report = (
    jobId: string,
    runner: string,
    signer: string,
    digest: Uint8Array,
    cid: string,
    service = current.address,
  ) => ({
    v: 2,
    jobId,
    bundleCid: cid,
    manifestDigest: toHex(digest),
    runner,
    signature: signResultReport(
      { service, jobId, bundleCid: cid, manifestDigest: toHex(digest), exitCode: 0 },
      signer,
    ),
    exitCode: 0,
  })

  it("stores the runner's signed result once and shows it on the job", async () => {
    const { service, jobId } = await jobToReport()
    const digest = sha256(new TextEncoder().encode('manifest'))
    const body = report(
      jobId,
      service.operator.publicKey,
      service.operator.privateKey,
      digest,
      service.descriptorCid,
    )
    const first = await postJson(`/v1/jobs/${jobId}/result`, body)
    expect(first.status).toBe(201)
    expect((await postJson(`/v1/jobs/${jobId}/result`, body)).status).toBe(200)
    const job = await jobOf(jobId)
    expect(job.result).toMatchObject({
      bundleCid: service.descriptorCid,
      manifestDigest: toHex(digest),
      signature: body.signature,
    })
    const other = report(
      jobId,
      service.operator.publicKey,
      service.operator.privateKey,
      sha256(new TextEncoder().encode('other')),
      service.descriptorCid,
    )
    const conflict = await postJson(`/v1/jobs/${jobId}/result`, other)
    expect(conflict.status).toBe(409)
    expect(await conflict.json()).toMatchObject({ error: { code: 'result_conflict' } })
  })

  it('refuses another runner, a bad signature and a job id that differs from the URL', async () => {
    const { service, jobId } = await jobToReport()
    const digest = sha256(new TextEncoder().encode('manifest'))
    const stranger = generateMinaKeyPair()
    const wrongRunner = await postJson(
      `/v1/jobs/${jobId}/result`,
      report(jobId, stranger.publicKey, stranger.privateKey, digest, service.descriptorCid),
    )
    expect(wrongRunner.status).toBe(403)
    expect(await wrongRunner.json()).toMatchObject({ error: { code: 'wrong_runner' } })
    const forged = await postJson(
      `/v1/jobs/${jobId}/result`,
      report(jobId, service.operator.publicKey, stranger.privateKey, digest, service.descriptorCid),
    )
    expect(forged.status).toBe(403)
    expect(await forged.json()).toMatchObject({ error: { code: 'bad_signature' } })
    const elsewhere = await postJson(
      `/v1/jobs/${'0'.repeat(32)}/result`,
      report(
        jobId,
        service.operator.publicKey,
        service.operator.privateKey,
        digest,
        service.descriptorCid,
      ),
    )
    expect(elsewhere.status).toBe(400)
    expect((await jobOf(jobId)).result).toBeNull()
  })

  it('refuses a genuine report replayed onto another job, even of the same service and user', async () => {
    const a = await jobToReport()
    const digest = sha256(new TextEncoder().encode('manifest of job a'))
    const genuine = report(
      a.jobId,
      a.service.operator.publicKey,
      a.service.operator.privateKey,
      digest,
      a.service.descriptorCid,
    )
    // A second job of the same service: the same runner key would verify a digest-only signature.
    const { envelope } = await sealedJob(a.service, await fundedUser(a.service, 100n), {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const b = (await (await postJson('/v1/jobs', envelope)).json()) as { jobId: string }
    const replayed = await postJson(`/v1/jobs/${b.jobId}/result`, { ...genuine, jobId: b.jobId })
    expect(replayed.status).toBe(403)
    expect(await replayed.json()).toMatchObject({ error: { code: 'bad_signature' } })
    expect((await jobOf(b.jobId)).result).toBeNull()
    // The real report of that job still lands: the replay locked nothing out.
    const real = report(
      b.jobId,
      a.service.operator.publicKey,
      a.service.operator.privateKey,
      sha256(new TextEncoder().encode('manifest of job b')),
      a.service.descriptorCid,
    )
    expect((await postJson(`/v1/jobs/${b.jobId}/result`, real)).status).toBe(201)
    expect((await postJson(`/v1/jobs/${a.jobId}/result`, genuine)).status).toBe(201)
  })
})

import { describe, expect, it } from 'vitest'
import {
  call,
  fundedUser,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
} from './test-support/fixtures.ts'

describe('POST /v1/jobs', () => {
  it('decrypts, admits and triggers one pipeline carrying the job id and parameters', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const res = await postJson('/v1/jobs', envelope)
    expect(res.status).toBe(202)
    const body = (await res.json()) as { jobId: string; status: string; pipelineId: number }
    expect(body).toMatchObject({ jobId: requestId, status: 'triggered' })
    const { pipelines } = await pipelinesFor(requestId)
    expect(pipelines).toHaveLength(1)
    expect(pipelines[0]?.id).toBe(body.pipelineId)

    const job = (await (await call(`/v1/jobs/${requestId}`)).json()) as Record<string, unknown>
    expect(job).toMatchObject({ jobId: requestId, service: service.address, status: 'triggered' })
    expect((job.history as { status: string }[]).map((h) => h.status)).toEqual([
      'queued',
      'triggered',
    ])
  })
})

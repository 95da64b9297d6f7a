import { describe, expect, it, vi } from 'vitest'
import { TEST_WEBHOOK_SECRET } from './test-support/constants.ts'
import {
  call,
  fundedUser,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
  type TestService,
} from './test-support/fixtures.ts'

// The workerd pool runs with QUOTA_PROBE_SECONDS = 1 (worker/vitest.config.ts).
const FIRST_WAIT_MS = 1000

type Status = {
  enabled: boolean
  reason?: string
  providerQuota?: { since: string; probeAt: string }
  chain: { funding?: { owed: string } }
}
type Job = { status: string; charge: { state: string; amount: string; reason?: string } }

const statusOf = async (path: string) => (await (await call(path)).json()) as Status
const jobOf = async (jobId: string) => (await (await call(`/v1/jobs/${jobId}`)).json()) as Job

/** GitLab's Job Hook for the job of `pipelineId`, as GitLab sends it for a job's status. */
const jobHook = (pipelineId: number, status: string, failureReason?: string, token?: string) =>
  postJson(
    '/v1/gitlab/webhook',
    {
      object_kind: 'build',
      build_id: pipelineId + 1,
      build_name: 'zkrunner',
      build_status: status,
      ...(failureReason ? { build_failure_reason: failureReason } : {}),
      pipeline_id: pipelineId,
      project_id: 42,
    },
    { 'x-gitlab-token': token ?? TEST_WEBHOOK_SECRET, 'x-gitlab-event': 'Job Hook' },
  )

describe('provider-quota: a service the CI provider refuses for quota switches off in time', () => {
  it('charges nothing for the refused job, refuses the next request, and one probe after the wait switches it on again', async () => {
    const service: TestService = await registeredService()
    const user = await fundedUser(service, 100n)
    const status = serviceStatusPath(service, user)
    let nonce = 0n
    const submit = async (cumulative: bigint) => {
      nonce += 1n
      const { envelope, requestId } = await sealedJob(service, user, {
        cumulativeAmount: cumulative,
        nonce,
      })
      const res = await postJson('/v1/jobs', envelope)
      const body = (await res.json()) as {
        pipelineId?: number
        error?: { code: string; message: string }
      }
      return { res, body, requestId }
    }

    const first = await submit(10n)
    expect(first.res.status).toBe(202)
    const refusedAt = Date.now()
    expect(
      await (await jobHook(first.body.pipelineId!, 'failed', 'ci_quota_exceeded')).json(),
    ).toEqual({ accepted: true })
    expect((await jobOf(first.requestId)).charge).toEqual({
      state: 'not-charged',
      amount: '0',
      reason: 'provider-quota',
    })
    const off = await statusOf(status)
    expect(off).toMatchObject({ enabled: false, reason: 'provider-quota' })
    expect(off.chain.funding?.owed).toBe('0')
    expect(Date.parse(off.providerQuota!.probeAt)).toBeGreaterThanOrEqual(refusedAt + FIRST_WAIT_MS)

    // Before the wait is up: 409 with the reason, nothing triggered, nothing owed.
    const early = await submit(10n)
    expect(early.res.status).toBe(409)
    expect(early.body.error?.message).toContain('provider-quota')
    expect((await pipelinesFor(early.requestId)).pipelines).toHaveLength(0)
    expect((await statusOf(status)).chain.funding?.owed).toBe('0')

    // The wait is up: one request goes through as the probe; the next waits for its answer.
    await vi.waitFor(async () => expect((await statusOf(status)).enabled).toBe(true), {
      timeout: 10_000,
      interval: 100,
    })
    const probe = await submit(10n)
    expect(probe.res.status).toBe(202)
    const meanwhile = await submit(20n)
    expect(meanwhile.res.status).toBe(409)
    expect(meanwhile.body.error?.message).toContain('provider-quota')

    // The provider refuses the probe too: not charged, and the wait doubles.
    const probeRefusedAt = Date.now()
    await jobHook(probe.body.pipelineId!, 'failed', 'ci_quota_exceeded')
    expect((await jobOf(probe.requestId)).charge.reason).toBe('provider-quota')
    const again = await statusOf(status)
    expect(again).toMatchObject({ enabled: false, reason: 'provider-quota' })
    expect(Date.parse(again.providerQuota!.probeAt)).toBeGreaterThanOrEqual(
      probeRefusedAt + 2 * FIRST_WAIT_MS,
    )

    // The second probe runs on a runner: the service is on again, and takes jobs as before.
    await vi.waitFor(async () => expect((await statusOf(status)).enabled).toBe(true), {
      timeout: 15_000,
      interval: 200,
    })
    const second = await submit(10n)
    expect(second.res.status).toBe(202)
    await jobHook(second.body.pipelineId!, 'running')
    const on = await statusOf(status)
    expect(on.enabled).toBe(true)
    expect(on.providerQuota).toBeUndefined()
    const next = await submit(20n)
    expect(next.res.status).toBe(202)
    expect((await statusOf(status)).chain.funding?.owed).toBe('20')
  })

  it('a probe the provider never answers for does not keep the service off: after another wait, the next job probes', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const status = serviceStatusPath(service, user)
    const submit = async (nonce: bigint, cumulativeAmount = 10n) => {
      const { envelope } = await sealedJob(service, user, { cumulativeAmount, nonce })
      const res = await postJson('/v1/jobs', envelope)
      return { res, body: (await res.json()) as { pipelineId?: number } }
    }
    const first = await submit(1n)
    await jobHook(first.body.pipelineId!, 'failed', 'ci_quota_exceeded')
    await vi.waitFor(async () => expect((await statusOf(status)).enabled).toBe(true), {
      timeout: 10_000,
      interval: 100,
    })
    // The probe is admitted, and no webhook about it ever comes.
    expect((await submit(2n)).res.status).toBe(202)
    expect((await statusOf(status)).enabled).toBe(false)
    await vi.waitFor(async () => expect((await statusOf(status)).enabled).toBe(true), {
      timeout: 10_000,
      interval: 100,
    })
    // The unanswered probe still counts as owed (it may yet run): the next voucher covers both.
    expect((await submit(3n, 20n)).res.status).toBe(202)
  })

  it('a quota failure under a wrong webhook secret changes nothing', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const { pipelineId } = (await (await postJson('/v1/jobs', envelope)).json()) as {
      pipelineId: number
    }
    const forged = await jobHook(pipelineId, 'failed', 'ci_quota_exceeded', 'not-the-secret')
    // Job Hooks are routed by a pointer named with the service's secret (job-hook-pointer.ts):
    // under another secret the pipeline is unknown, answered 200 so GitLab keeps its hook.
    expect(await forged.json()).toEqual({ accepted: false, ignored: 'unknown pipeline' })
    expect((await statusOf(serviceStatusPath(service, user))).enabled).toBe(true)
    expect((await jobOf(requestId)).charge.state).not.toBe('not-charged')
  })
})

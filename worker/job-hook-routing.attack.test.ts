import { describe, expect, inject, it } from 'vitest'
import { TEST_PROJECT_ID, TEST_WEBHOOK_SECRET } from './test-support/constants.ts'
import {
  call,
  fundedUser,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
} from './test-support/fixtures.ts'

// Attack (review of the provider-quota health check): GitLab Job Hooks, the only events that carry
// `ci_quota_exceeded`, are routed by a global pointer `pipeline:<project id>:<pipeline id>`, first
// writer wins. The pointer is written from any service's authenticated Pipeline Hook, whose
// numeric project id is not checked when the service names its project by path. So a stranger with
// a service of their own claims another service's next pipeline ahead of it: that service's Job
// Hooks then go to the stranger's service and fail its secret (401), its quota refusals are never
// seen (users stay charged for jobs GitLab refused, the breaker never opens), and GitLab, seeing
// its hook fail, disables it.

type Status = { enabled: boolean; reason?: string }
type Job = { status: string; charge: { state: string; reason?: string } }

const maxPipelineId = async (): Promise<number> => {
  const body = (await (await fetch(`${inject('gitlabUrl')}/__standin/pipelines`)).json()) as {
    pipelines: { id: number }[]
  }
  // The stand-in numbers pipelines from 1000, one after another.
  return Math.max(999, ...body.pipelines.map((p) => p.id))
}

describe('Job Hook routing: a stranger cannot take another service’s pipelines', () => {
  it("a stranger's authenticated Pipeline Hook naming the victim's project id and next pipeline does not capture the victim's Job Hooks", async () => {
    // The stranger: their own GitLab service, named by path, with a provider that never answers
    // (their job keeps no run of its own, so its first webhook writes the pointer).
    const strangerSecret = 'the-strangers-own-secret'
    const stranger = await registeredService({
      project: 'stranger/project',
      providerUrl: 'https://127.0.0.1:9',
      webhookSecret: strangerSecret,
    })
    const strangerUser = await fundedUser(stranger, 100n)
    const strangerJob = await sealedJob(stranger, strangerUser, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    await postJson('/v1/jobs', strangerJob.envelope)

    const victim = await registeredService()
    const user = await fundedUser(victim, 100n)
    const target = (await maxPipelineId()) + 1
    const claim = await postJson(
      '/v1/gitlab/webhook',
      {
        object_kind: 'pipeline',
        object_attributes: {
          id: target,
          status: 'pending',
          variables: [
            { key: 'ZKRUNNER_JOB_ID', value: strangerJob.requestId },
            { key: 'ZKRUNNER_SERVICE', value: stranger.address },
          ],
        },
        // The path is the stranger's own (it authenticates); the id is the victim's project.
        project: { id: TEST_PROJECT_ID, path_with_namespace: 'stranger/project' },
      },
      { 'x-gitlab-token': strangerSecret, 'x-gitlab-event': 'Pipeline Hook' },
    )
    expect(claim.status).toBe(200)

    // The victim's user buys a job; GitLab gives it the pipeline the stranger claimed and refuses
    // it for quota.
    const { envelope, requestId } = await sealedJob(victim, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const res = await postJson('/v1/jobs', envelope)
    const { pipelineId } = (await res.json()) as { pipelineId: number }
    expect(pipelineId).toBe(target)
    const hook = await postJson(
      '/v1/gitlab/webhook',
      {
        object_kind: 'build',
        build_id: pipelineId + 1,
        build_name: 'zkrunner',
        build_status: 'failed',
        build_failure_reason: 'ci_quota_exceeded',
        pipeline_id: pipelineId,
        project_id: TEST_PROJECT_ID,
      },
      { 'x-gitlab-token': TEST_WEBHOOK_SECRET, 'x-gitlab-event': 'Job Hook' },
    )
    // The victim's own, correctly signed hook is accepted and applied to the victim's job.
    expect(hook.status).toBe(200)
    const job = (await (await call(`/v1/jobs/${requestId}`)).json()) as Job
    expect(job.charge).toMatchObject({ state: 'not-charged', reason: 'provider-quota' })
    const status = (await (await call(serviceStatusPath(victim, user))).json()) as Status
    expect(status).toMatchObject({ enabled: false, reason: 'provider-quota' })
  })
})

import { describe, expect, it } from 'vitest'
import { TEST_PROJECT_ID, TEST_WEBHOOK_SECRET } from '../test-support/constants.ts'
import {
  call,
  fundedUser,
  githubSignature,
  postJson,
  registeredService,
  sealedJob,
  type TestService,
} from '../test-support/fixtures.ts'

// A Worker with a GitLab and a GitHub service: a delivery on one provider's route must never move
// a job of the other provider's service, even when its evidence would pass that service's own
// check (a GitLab secret shaped like a GitHub signature, the HMAC of an empty body as a GitLab
// token). Each event counts only on its own provider's route.

interface JobView {
  status: string
  history: { status: string; source: string }[]
}
const jobOf = async (jobId: string) => (await (await call(`/v1/jobs/${jobId}`)).json()) as JobView

async function jobOn(
  service: TestService,
): Promise<{ jobId: string; runId: string | number; before: JobView }> {
  const user = await fundedUser(service, 100n)
  const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
  const res = await postJson('/v1/jobs', envelope)
  expect(res.status).toBe(202)
  const body = (await res.json()) as { jobId: string; pipelineId: string | number }
  expect(body.pipelineId).not.toBeNull()
  return { jobId: body.jobId, runId: body.pipelineId, before: await jobOf(body.jobId) }
}

describe('webhooks across providers', () => {
  it('a GitHub delivery does not move a GitLab job, even signed with its GitLab secret', async () => {
    // The operator's GitLab secret happens to have the shape of an X-Hub-Signature-256 value.
    const secret = `sha256=${'ab'.repeat(32)}`
    const service = await registeredService({ webhookSecret: secret })
    const { jobId, runId, before } = await jobOn(service)
    const body = JSON.stringify({
      action: 'completed',
      workflow_run: {
        id: Number(runId),
        display_title: `zkrunner ${jobId}`,
        status: 'completed',
        conclusion: 'success',
        html_url: `https://gitlab.example.com/p/-/pipelines/${runId}`,
      },
      repository: { id: TEST_PROJECT_ID, full_name: 'g/p' },
    })
    const res = await call('/v1/github/webhook', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'workflow_run',
        'x-github-delivery': crypto.randomUUID(),
        'x-hub-signature-256': secret,
      },
      body,
    })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
    expect(await jobOf(jobId)).toEqual(before)
  })

  it('a GitLab delivery does not move a GitHub job, even with the HMAC its GitHub secret gives', async () => {
    const service = await registeredService({ provider: 'github' })
    // GitHub's run ids are 64-bit, past what a GitLab payload carries: any pipeline id will do.
    const { jobId, before } = await jobOn(service)
    const res = await call('/v1/gitlab/webhook', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Pipeline Hook',
        // GitLab sends no body signature: the GitHub check would verify this over an empty body.
        'x-gitlab-token': await githubSignature(TEST_WEBHOOK_SECRET, ''),
      },
      body: JSON.stringify({
        object_kind: 'pipeline',
        object_attributes: {
          id: 1,
          status: 'success',
          variables: [
            { key: 'ZKRUNNER_JOB_ID', value: jobId },
            { key: 'ZKRUNNER_SERVICE', value: service.address },
          ],
        },
        project: { id: 777, path_with_namespace: service.descriptor.project },
      }),
    })
    expect(res.status).toBe(401)
    expect(await jobOf(jobId)).toEqual(before)
  })
})

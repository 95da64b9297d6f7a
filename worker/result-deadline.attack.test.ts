import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
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

// ATTACK (reviewer, not a fix): a job decided not charged (no-result, its deadline passed) while
// its trigger was still being retried is triggered anyway. #decideOverdue releases the charge and
// leaves `awaiting_result`, but the job stays `queued` with its next_attempt_at, and the alarm's
// trigger loop (service-object.ts alarm → #runTriggerSafely → #triggerLoop) never looks at
// result_by. The pipeline runs, the runner's report is refused 410 result_too_late: the runner
// works for nothing, the user (or a sponsor's pool, whose price was released) gets a job that ran
// uncharged. The agent cannot refuse either: the deadline is not among the trigger variables.

const stubOf = (service: TestService) =>
  testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))

describe('ATTACK: a job past its result deadline is still triggered', () => {
  it('an overdue queued job is not triggered by the alarm', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    // GitLab down for the inline budget: the job stays queued, retried by the alarm.
    await setGitlabFaults({ trigger: Array.from({ length: 8 }, () => ({ status: 503 })) })
    const res = await postJson('/v1/jobs', envelope)
    await setGitlabFaults({})
    expect(((await res.json()) as { status: string }).status).toBe('queued')
    // Its deadline passes (hours of provider outage or quota waits), and its retry comes due.
    await runInDurableObject(stubOf(service), (_i, state) => {
      const past = Date.now() - 1
      state.storage.sql.exec('UPDATE jobs SET result_by = ?, next_attempt_at = ?', past, past)
      state.storage.sql.exec('UPDATE awaiting_result SET due_at = ?', past)
    })
    expect(await runDurableObjectAlarm(stubOf(service))).toBe(true)
    const job = (await (await call(`/v1/jobs/${requestId}`)).json()) as {
      status: string
      charge: { state: string; reason?: string }
    }
    expect(job.charge).toMatchObject({ state: 'not-charged', reason: 'no-result' })
    // FAILS on this code: the alarm triggered a pipeline for the job it had just decided uncharged.
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(0)
  })
})

import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { type ResultReport, sha256, signResultReport, toHex } from '../protocol/index.ts'
import { app } from './index.ts'
import {
  call,
  fundedUser,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
  setGitlabFaults,
  type TestService,
  testEnv,
} from './test-support/fixtures.ts'

const stubOf = (service: TestService) =>
  testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))

/** Moves a job's result deadline (fixed at admission from MAX_JOB_SECONDS + RESULT_GRACE_SECONDS). */
const setResultBy = (service: TestService, jobId: string, at: number) =>
  runInDurableObject(stubOf(service), (_i, state) => {
    state.storage.sql.exec('UPDATE jobs SET result_by = ? WHERE job_id = ?', at, jobId)
    state.storage.sql.exec('UPDATE awaiting_result SET due_at = ? WHERE job_id = ?', at, jobId)
  })

/** The job's stored release reason, read as the alarm left it (no GET, which decides lazily). */
const releasedReason = (service: TestService, jobId: string) =>
  runInDurableObject(
    stubOf(service),
    (_i, state) =>
      state.storage.sql
        .exec('SELECT released_reason AS r FROM charges WHERE job_id = ?', jobId)
        .one().r,
  )

const jobOf = async (jobId: string) =>
  (await (await call(`/v1/jobs/${jobId}`)).json()) as {
    status: string
    charge: { state: string; amount: string; reason?: string }
  }

/** The runner's signed report of a job's end, as the agent posts it. */
const report = (
  service: TestService,
  jobId: string,
  end: Pick<ResultReport, 'exitCode' | 'signal' | 'notRun'>,
) => {
  const signed = {
    service: service.address,
    jobId,
    bundleCid: service.descriptorCid,
    manifestDigest: toHex(sha256(new TextEncoder().encode(`manifest of ${jobId}`))),
    ...end,
  }
  return {
    v: 2,
    jobId,
    bundleCid: signed.bundleCid,
    manifestDigest: signed.manifestDigest,
    runner: service.operator.publicKey,
    signature: signResultReport(signed, service.operator.privateKey),
    ...end,
  }
}

describe('charges follow the payable rule', () => {
  it('releases a failed trigger: the next voucher owes one price, and the job shows not charged', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    await setGitlabFaults({ trigger: [{ status: 400 }] })
    const first = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    const res = await postJson('/v1/jobs', first.envelope)
    await setGitlabFaults({})
    expect(((await res.json()) as { status: string }).status).toBe('trigger_failed')
    expect((await jobOf(first.requestId)).charge).toEqual({
      state: 'not-charged',
      amount: '0',
      reason: 'trigger-failed',
    })
    // Before the release the Worker asked for 20 here, a voucher the runner could never settle
    // in full (it never sees the failed job).
    const second = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 2n })
    const next = await postJson('/v1/jobs', second.envelope)
    expect(next.status).toBe(202)
    expect((await jobOf(second.requestId)).charge).toEqual({ state: 'pending', amount: '10' })
  })

  it('does not charge a job its agent lost, and charges a job that ran and failed', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const lost = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    expect((await postJson('/v1/jobs', lost.envelope)).status).toBe(202)
    const failed = await sealedJob(service, user, { cumulativeAmount: 20n, nonce: 2n })
    expect((await postJson('/v1/jobs', failed.envelope)).status).toBe(202)
    const lostReport = report(service, lost.requestId, { exitCode: null, signal: 'agent-lost' })
    expect((await postJson(`/v1/jobs/${lost.requestId}/result`, lostReport)).status).toBe(201)
    const failedReport = report(service, failed.requestId, { exitCode: 1 })
    expect((await postJson(`/v1/jobs/${failed.requestId}/result`, failedReport)).status).toBe(201)
    expect((await jobOf(lost.requestId)).charge).toEqual({
      state: 'not-charged',
      amount: '0',
      reason: 'agent-lost',
    })
    expect((await jobOf(failed.requestId)).charge).toEqual({ state: 'charged', amount: '10' })
    // The user's status names the released job, the gap between their voucher (20) and what
    // they owe (10); the charged one is not listed.
    const status = (await (await call(serviceStatusPath(service, user))).json()) as {
      chain: { funding: { owed: string; released: unknown } }
    }
    expect(status.chain.funding.owed).toBe('10')
    expect(status.chain.funding.released).toEqual([
      { jobId: lost.requestId, amount: '10', reason: 'agent-lost' },
    ])
    // The user owes 10 now, not 20: a third job's voucher at 20 is accepted, one at 30 would
    // have been the old rule.
    const third = await sealedJob(service, user, { cumulativeAmount: 20n, nonce: 3n })
    expect((await postJson('/v1/jobs', third.envelope)).status).toBe(202)
  })

  it('releases a job with no result by its deadline: the alarm decides it no-result', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const silent = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    expect((await postJson('/v1/jobs', silent.envelope)).status).toBe(202)
    // Fixed at admission: 6 h of job plus 1 h to report, the protocol's defaults.
    const stored = () =>
      runInDurableObject(stubOf(service), async (_i, state) => ({
        ...(state.storage.sql
          .exec('SELECT result_by AS resultBy, created_at AS createdAt FROM jobs')
          .one() as { resultBy: number; createdAt: number }),
        alarm: await state.storage.getAlarm(),
      }))
    const admitted = await stored()
    expect(admitted.resultBy - admitted.createdAt).toBe((6 + 1) * 3600 * 1000)
    // The deadline rides the object's one alarm: the earliest thing due (here the deadline, moved
    // before the request id's forgetting) is when the alarm is set next.
    const soon = Date.now() + 60_000
    await setResultBy(service, silent.requestId, soon)
    expect(await runDurableObjectAlarm(stubOf(service))).toBe(true)
    expect((await stored()).alarm).toBe(soon)
    expect(await releasedReason(service, silent.requestId)).toBeNull()
    expect((await jobOf(silent.requestId)).charge).toEqual({ state: 'pending', amount: '10' })

    await setResultBy(service, silent.requestId, Date.now() - 1)
    expect(await runDurableObjectAlarm(stubOf(service))).toBe(true)
    expect(await releasedReason(service, silent.requestId)).toBe('no-result')
    // Decided, it is no longer awaited: the alarm is not left due at once, firing in a loop.
    expect((await stored()).alarm ?? Number.POSITIVE_INFINITY).toBeGreaterThan(Date.now())
    expect((await jobOf(silent.requestId)).charge).toEqual({
      state: 'not-charged',
      amount: '0',
      reason: 'no-result',
    })
    // The user no longer owes it: the next voucher owes one price, not two.
    const next = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 2n })
    expect((await postJson('/v1/jobs', next.envelope)).status).toBe(202)
  })

  it('refuses a report after the deadline, even before the alarm: nothing more is owed', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const late = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    expect((await postJson('/v1/jobs', late.envelope)).status).toBe(202)
    await setResultBy(service, late.requestId, Date.now() - 1)
    // The runner's genuine, signed report of a successful run, one moment too late.
    const res = await postJson(
      `/v1/jobs/${late.requestId}/result`,
      report(service, late.requestId, { exitCode: 0 }),
    )
    expect(res.status).toBe(410)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('result_too_late')
    const job = (await (await call(`/v1/jobs/${late.requestId}`)).json()) as {
      charge: unknown
      result: unknown
    }
    expect(job.result).toBeNull()
    expect(job.charge).toEqual({ state: 'not-charged', amount: '0', reason: 'no-result' })
    // Sent again it is still refused, and what the user owes is unchanged: a voucher at one price.
    expect(
      (
        await postJson(
          `/v1/jobs/${late.requestId}/result`,
          report(service, late.requestId, { exitCode: 0 }),
        )
      ).status,
    ).toBe(410)
    const next = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 2n })
    expect((await postJson('/v1/jobs', next.envelope)).status).toBe(202)
  })

  it('keeps charging a job whose result came in time, whatever the clock does later', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const ran = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    expect((await postJson('/v1/jobs', ran.envelope)).status).toBe(202)
    const inTime = report(service, ran.requestId, { exitCode: 0 })
    expect((await postJson(`/v1/jobs/${ran.requestId}/result`, inTime)).status).toBe(201)
    await setResultBy(service, ran.requestId, Date.now() - 1)
    await runDurableObjectAlarm(stubOf(service))
    expect((await jobOf(ran.requestId)).charge).toEqual({ state: 'charged', amount: '10' })
    // The runner's retry of the same report is still acknowledged; the user still owes it.
    expect((await postJson(`/v1/jobs/${ran.requestId}/result`, inTime)).status).toBe(200)
    const short = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 2n })
    expect((await postJson('/v1/jobs', short.envelope)).status).toBe(402)
  })

  it('refuses to start with a result window out of bounds: 503 not_configured, naming the setting', async () => {
    for (const [name, value] of [
      ['MAX_JOB_SECONDS', '0'],
      ['RESULT_GRACE_SECONDS', 'soon'],
      ['RESULT_GRACE_SECONDS', String(8 * 86_400)],
    ]) {
      const res = await app.request(
        '/v1/jobs',
        { method: 'POST', body: '{}' },
        {
          ...env,
          [name as string]: value,
        },
      )
      expect(res.status).toBe(503)
      const { error } = (await res.json()) as { error: { code: string; message: string } }
      expect(error.code).toBe('not_configured')
      expect(error.message).toContain(name)
    }
  })
})

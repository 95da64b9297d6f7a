import { describe, expect, it } from 'vitest'
import { type ResultReport, sha256, signResultReport, toHex } from '../protocol/index.ts'
import {
  call,
  fundedUser,
  postJson,
  registeredService,
  sealedJob,
  setGitlabFaults,
  type TestService,
} from './test-support/fixtures.ts'

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
    // The user owes 10 now, not 20: a third job's voucher at 20 is accepted, one at 30 would
    // have been the old rule.
    const third = await sealedJob(service, user, { cumulativeAmount: 20n, nonce: 3n })
    expect((await postJson('/v1/jobs', third.envelope)).status).toBe(202)
  })
})

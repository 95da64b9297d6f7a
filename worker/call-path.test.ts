import { describe, expect, it } from 'vitest'
import { generateMinaKeyPair, MAX_CALL_DEPTH } from '../protocol/index.ts'
import {
  call,
  errorOf,
  fundedUser,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
  type TestService,
} from './test-support/fixtures.ts'

// A driver's job may call another driver. The request carries the service versions above it; the
// Worker refuses a call deeper than MAX_CALL_DEPTH or round a cycle before the service's object
// is asked: nothing admitted, charged or triggered.

const otherVersions = (n: number) =>
  Array.from({ length: n }, () => generateMinaKeyPair().publicKey)

/** Asks `service` for one job from below `callPath`, at the first voucher of a fresh user. */
async function askFrom(service: TestService, callPath: string[]) {
  const user = await fundedUser(service, 100n)
  const job = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n, callPath })
  return { user, ...job, res: await postJson('/v1/jobs', job.envelope) }
}

/** A refused call charged nothing: no job, no trigger, and the same first voucher still admits. */
async function expectNothingCharged(
  service: TestService,
  refused: Awaited<ReturnType<typeof askFrom>>,
) {
  expect((await call(`/v1/jobs/${refused.requestId}`)).status).toBe(404)
  expect((await pipelinesFor(refused.requestId)).pipelines).toHaveLength(0)
  const status = (await (await call(serviceStatusPath(service, refused.user))).json()) as {
    chain: { funding: { owed: string; voucher: unknown } }
  }
  expect(status.chain.funding).toMatchObject({ owed: '0', voucher: null })
  const again = await sealedJob(service, refused.user, { cumulativeAmount: 10n, nonce: 1n })
  expect((await postJson('/v1/jobs', again.envelope)).status).toBe(202)
}

describe('a driver call is bounded by its call path before anything is charged', () => {
  it(`admits a call at depth ${MAX_CALL_DEPTH}`, async () => {
    const service = await registeredService()
    const above = otherVersions(MAX_CALL_DEPTH - 1)
    const { res, requestId } = await askFrom(service, above)
    expect(res.status).toBe(202)
    const { pipelines } = await pipelinesFor(requestId)
    expect(pipelines).toHaveLength(1)
    // The runner hashes the path into the manifest's requestDigest, and passes it on below.
    const variables = Object.fromEntries(pipelines[0]!.variables.map((v) => [v.key, v.value]))
    expect(JSON.parse(variables.ZKRUNNER_CALL_PATH ?? 'null')).toEqual(above)
  })

  it(`refuses depth ${MAX_CALL_DEPTH + 1}: 422 call_too_deep, nothing charged, no trigger`, async () => {
    const service = await registeredService()
    const refused = await askFrom(service, otherVersions(MAX_CALL_DEPTH))
    expect(refused.res.status).toBe(422)
    const error = await errorOf(refused.res)
    expect(error.code).toBe('call_too_deep')
    expect(error.message).toContain(`depth ${MAX_CALL_DEPTH + 1}`)
    expect(error.path).toEqual(['request', 'callPath'])
    await expectNothingCharged(service, refused)
  })

  it('refuses a cycle through the same service version: 422 call_cycle, nothing charged, no trigger', async () => {
    const service = await registeredService()
    const [above] = otherVersions(1)
    const refused = await askFrom(service, [service.address, above!])
    expect(refused.res.status).toBe(422)
    const error = await errorOf(refused.res)
    expect(error.code).toBe('call_cycle')
    expect(error.message).toContain(service.address)
    await expectNothingCharged(service, refused)
  })
})

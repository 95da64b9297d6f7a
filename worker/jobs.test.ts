import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  canonicalJson,
  generateMinaKeyPair,
  JOB_REQUEST_INFO,
  parseJobVariables,
  sealJson,
} from '../protocol/index.ts'
import { app } from './index.ts'
import {
  call,
  depositFor,
  errorOf,
  fundedUser,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  setSlot,
  workerKey,
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
    // The runner settles with the user's voucher, so it travels with the job.
    const variables = Object.fromEntries(pipelines[0]!.variables.map((v) => [v.key, v.value]))
    expect(variables.ZKRUNNER_USER).toBe(user.publicKey)
    // The runner binds its manifest to this request: id, user and the parameters as they ran.
    expect(variables.ZKRUNNER_JOB_ID).toBe(requestId)
    expect(JSON.parse(variables.ZKRUNNER_PARAMETERS!)).toEqual(
      Object.fromEntries(Object.entries(variables).filter(([k]) => !k.startsWith('ZKRUNNER_'))),
    )
    expect(JSON.parse(variables.ZKRUNNER_VOUCHER!)).toMatchObject({
      cumulativeAmount: '10',
      nonce: '1',
    })
    // A service without declared outputs sends none (a GitHub workflow need not declare it).
    expect(variables.ZKRUNNER_OUTPUTS).toBeUndefined()

    const job = (await (await call(`/v1/jobs/${requestId}`)).json()) as Record<string, unknown>
    expect(job).toMatchObject({ jobId: requestId, service: service.address, status: 'triggered' })
    // What the user signed for this job: the voucher amount it was admitted with.
    expect(job.voucher).toEqual({ cumulativeAmount: '10', nonce: '1' })
    expect((job.history as { status: string }[]).map((h) => h.status)).toEqual([
      'queued',
      'triggered',
    ])
  })

  it('passes the descriptor’s declared outputs to the runner, which checks the job’s values against them', async () => {
    const outputs = [
      { name: 'passed', type: 'boolean' as const, required: true },
      { name: 'primes', type: 'integer' as const, required: false },
    ]
    const service = await registeredService({ outputs })
    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    expect((await postJson('/v1/jobs', envelope)).status).toBe(202)
    const { pipelines } = await pipelinesFor(requestId)
    const variables = Object.fromEntries(pipelines[0]!.variables.map((v) => [v.key, v.value]))
    expect(variables.ZKRUNNER_OUTPUTS).toBe(canonicalJson(outputs))
    expect(parseJobVariables(variables).ok).toBe(true)
  })

  it('triggers exactly once when the same envelope is posted 1,000 times, in sequence and at once', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 1000n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const body = JSON.stringify(envelope)
    const concurrent = await Promise.all(
      Array.from({ length: 500 }, () => postJson('/v1/jobs', body)),
    )
    const sequential: Response[] = []
    for (let i = 0; i < 500; i++) sequential.push(await postJson('/v1/jobs', body))
    const statuses = [...concurrent, ...sequential].map((r) => r.status)
    expect(statuses.filter((s) => s === 202)).toHaveLength(1)
    expect(statuses.filter((s) => s === 409)).toHaveLength(999)
    const codes = new Set(
      await Promise.all(
        [...concurrent, ...sequential].filter((r) => r.status === 409).map(errorOf),
      ).then((es) => es.map((e) => e.code)),
    )
    expect([...codes]).toEqual(['replayed'])
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)
  })

  it('refuses an expired request with 410 expired', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { envelope } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
      expiresAt: Math.floor(Date.now() / 1000) - 1,
    })
    const res = await postJson('/v1/jobs', envelope)
    expect(res.status).toBe(410)
    expect((await errorOf(res)).code).toBe('expired')
  })

  it('refuses an envelope for another key id, a tampered one and a non-envelope', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    const wrongKid = await postJson('/v1/jobs', { ...envelope, kid: '0123456789abcdef' })
    expect(wrongKid.status).toBe(400)
    expect((await errorOf(wrongKid)).code).toBe('unknown_key_id')
    const flipped = envelope.ct.startsWith('A')
      ? `B${envelope.ct.slice(1)}`
      : `A${envelope.ct.slice(1)}`
    const tampered = await postJson('/v1/jobs', { ...envelope, ct: flipped })
    expect(tampered.status).toBe(400)
    expect((await errorOf(tampered)).code).toBe('decrypt_failed')
    const other = await postJson('/v1/jobs', { hello: 'world' })
    expect((await errorOf(other)).code).toBe('bad_envelope')
    const malformed = await postJson('/v1/jobs', '{"v":1,')
    expect(malformed.status).toBe(400)
    expect((await errorOf(malformed)).code).toBe('malformed_json')
  })

  it('refuses a body above the limit with 413 without reading it all', async () => {
    const res = await postJson('/v1/jobs', 'x'.repeat(200_000))
    expect(res.status).toBe(413)
    expect((await errorOf(res)).code).toBe('body_too_large')
  })

  it('refuses a sealed payload that is not a job submission', async () => {
    const { publicKey } = await workerKey()
    const res = await postJson('/v1/jobs', await sealJson(publicKey, JOB_REQUEST_INFO, { a: 1 }))
    expect(res.status).toBe(400)
    expect((await errorOf(res)).code).toBe('invalid_body')
  })

  it('refuses parameters outside the service schema with 422 invalid_parameters', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const cases: Record<string, string | number>[] = [
      { N: 11 },
      { N: 'three' },
      {},
      { N: 3, EXTRA: 'x' },
    ]
    for (const parameters of cases) {
      const { envelope } = await sealedJob(service, user, {
        cumulativeAmount: 10n,
        nonce: 1n,
        parameters,
      })
      const res = await postJson('/v1/jobs', envelope)
      expect(res.status).toBe(422)
      expect((await errorOf(res)).code).toBe('invalid_parameters')
    }
  })

  it('refuses a voucher signed by someone else', async () => {
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { publicKey } = await workerKey()
    const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    // Re-seal the same submission with the voucher's signature from another key.
    const other = generateMinaKeyPair()
    const { envelope: forged } = await sealedJob(
      service,
      { ...user, privateKey: other.privateKey },
      {
        cumulativeAmount: 10n,
        nonce: 1n,
      },
    )
    expect(envelope.kid).toBe(forged.kid)
    const res = await postJson('/v1/jobs', forged)
    expect(res.status).toBe(403)
    expect((await errorOf(res)).code).toBe('bad_signature')
    expect(publicKey).toBeTruthy()
  })

  it('keeps the vouchers within the deposit: above, stale and insufficient vouchers are refused', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 25n)
    const post = async (cumulativeAmount: bigint, nonce: bigint) =>
      postJson('/v1/jobs', (await sealedJob(service, user, { cumulativeAmount, nonce })).envelope)

    const above = await post(30n, 1n)
    expect(above.status).toBe(402)
    expect((await errorOf(above)).code).toBe('voucher_above_deposit')
    expect((await post(10n, 1n)).status).toBe(202)
    const stale = await post(20n, 1n)
    expect(stale.status).toBe(409)
    expect((await errorOf(stale)).code).toBe('voucher_stale')
    const insufficient = await post(15n, 2n)
    expect(insufficient.status).toBe(402)
    expect((await errorOf(insufficient)).code).toBe('voucher_insufficient')
    expect((await post(20n, 2n)).status).toBe(202)
    // 20 owed + 10 > 25: the deposit cannot pay one more job.
    const exhausted = await post(30n, 3n)
    expect(exhausted.status).toBe(409)
    // The protocol rule's reason, named in the refusal.
    expect(await errorOf(exhausted)).toMatchObject({
      code: 'service_disabled',
      message: expect.stringContaining('insufficient-deposit'),
    })
    // A top-up into the ledger re-enables it.
    await depositFor(service, user.publicKey, 15n)
    expect((await post(30n, 3n)).status).toBe(202)
  })

  it('refuses an unknown service and a service whose runner heartbeat is stale', async () => {
    const unregistered = generateMinaKeyPair()
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    const { envelope } = await sealedJob({ ...service, address: unregistered.publicKey }, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const unknown = await postJson('/v1/jobs', envelope)
    expect(unknown.status).toBe(404)
    expect((await errorOf(unknown)).code).toBe('unknown_service')

    await setSlot(5000)
    const stale = await postJson(
      '/v1/jobs',
      (await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })).envelope,
    )
    expect(stale.status).toBe(409)
    expect((await errorOf(stale)).message).toContain('stale-heartbeat')
    await setSlot(1000)
  })

  it('answers 404 JSON for an unknown job id and a malformed one', async () => {
    for (const id of ['0'.repeat(32), 'nope', '%00']) {
      const res = await call(`/v1/jobs/${id}`)
      expect(res.status).toBe(404)
      expect((await errorOf(res)).code).toBe('not_found')
    }
  })

  it('answers 503 not_configured, never a crash, when the HPKE key is missing', async () => {
    const res = await app.request(
      '/v1/jobs',
      { method: 'POST', body: '{}' },
      {
        ...env,
        HPKE_PRIVATE_KEY: undefined,
      },
    )
    expect(res.status).toBe(503)
    const error = await errorOf(res)
    expect(error.code).toBe('not_configured')
    expect(error.message).toContain('HPKE_PRIVATE_KEY')
  })
})

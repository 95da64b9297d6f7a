import { env } from 'cloudflare:workers'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  JOB_REQUEST_INFO,
  newRequestId,
  sealJson,
  signServiceRetirement,
  signVoucher,
} from '../protocol/index.ts'
import { app } from './index.ts'
import { TEST_WEBHOOK_SECRET } from './test-support/constants.ts'
import {
  fundedUser,
  makeService,
  postJson,
  registeredService,
  workerKey,
} from './test-support/fixtures.ts'

const RUNS = 10_000

/** Every answer to bad input: below 500, JSON, and an error with a code, without a stack. */
async function expectClientError(res: Response): Promise<void> {
  const text = await res.text()
  expect(res.status, text).toBeLessThan(500)
  expect(res.headers.get('content-type')).toContain('application/json')
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+/)
  const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
  if (res.status >= 400) {
    expect(typeof body.error?.code).toBe('string')
    expect(typeof body.error?.message).toBe('string')
  }
}

const b64 = fc.string({ unit: fc.constantFrom(...'ABCDEFabcdef0123456789-_'), maxLength: 80 })
const hex16 = fc.string({
  unit: fc.constantFrom(...'0123456789abcdef'),
  minLength: 16,
  maxLength: 16,
})
const base58 = fc.string({
  unit: fc.constantFrom(...'123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'),
  maxLength: 60,
})

/** Bodies from garbage to almost-valid, as bytes. */
function bodies(almost: fc.Arbitrary<unknown>): fc.Arbitrary<string | Uint8Array> {
  return fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    almost.map((v) => JSON.stringify(v)),
    almost.map((v) => JSON.stringify(v).slice(0, -1)),
  )
}

const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  app.request(
    path,
    { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } },
    env,
  )

describe('fuzz: malformed bodies never make a 5xx', () => {
  it(`POST /v1/jobs (${RUNS} bodies)`, async () => {
    const { kid } = await workerKey()
    const envelope = fc.record(
      {
        v: fc.oneof(fc.constant(1), fc.integer(), fc.string()),
        suite: fc.oneof(
          fc.constant('DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/ChaCha20Poly1305'),
          fc.string(),
        ),
        kid: fc.oneof(fc.constant(kid), hex16, fc.string()),
        enc: fc.oneof(
          b64,
          fc.string({ unit: fc.constantFrom(...'Aa0_'), minLength: 43, maxLength: 43 }),
        ),
        ct: b64,
        extra: fc.anything(),
      },
      { requiredKeys: ['v', 'kid', 'enc', 'ct'] },
    )
    await fc.assert(
      fc.asyncProperty(bodies(envelope), async (body) => {
        await expectClientError(await post('/v1/jobs', body))
      }),
      { numRuns: RUNS },
    )
  })

  it(`POST /v1/jobs with a service parameter (${RUNS} sealed requests)`, async () => {
    // Well-sealed, well-signed requests to a higher-order service: only the parameters vary, the
    // driver among every kind the rule refuses (and one it admits), so each reaches admission.
    const service = await registeredService({
      parameters: [
        {
          name: 'DRIVER',
          type: 'service',
          required: true,
          interface: { parameters: [{ name: 'OPT', type: 'enum' }] },
        },
        { name: 'N', type: 'integer', required: false },
      ],
    })
    const opt = [{ name: 'OPT', type: 'enum' as const, values: ['O0'], required: true }]
    const matching = await registeredService({ parameters: opt })
    const retired = await registeredService({ parameters: opt })
    await postJson(
      `/v1/services/${retired.address}/retire`,
      signServiceRetirement(
        { service: retired.address, at: Date.now() },
        retired.operator.privateKey,
      ),
    )
    const drivers = [
      matching.address,
      retired.address,
      (await registeredService()).address, // no OPT: interface mismatch
      (await makeService({ parameters: opt })).address, // never registered
      (await registeredService({ parameters: opt, heartbeatSlot: 1 })).address, // stale
      service.address, // itself
      generateMinaKeyPair().publicKey, // no contract
    ]
    const user = await fundedUser(service, 1_000_000n)
    const { publicKey } = await workerKey()
    // One voucher for all: a refused request does not use it up; after the first admission the
    // rest meet voucher_stale, which is also below 500.
    const voucher = signVoucher(
      { v: 1, user: user.publicKey, service: service.address, cumulativeAmount: '10', nonce: '1' },
      user.privateKey,
    )
    const answers = new Set<string>()
    const codeOf = async (res: Response) =>
      ((await res.json()) as { error?: { code?: string } }).error?.code ?? String(res.status)
    const value = fc.oneof(
      fc.constantFrom(...drivers),
      base58,
      fc.string({ maxLength: 60 }),
      fc.integer(),
      fc.boolean(),
    )
    const parameters = fc.dictionary(
      fc.oneof(
        fc.constantFrom('DRIVER', 'N', 'OPT', 'ZKRUNNER_SERVICE'),
        fc.string({ maxLength: 8 }),
      ),
      value,
      { maxKeys: 3 },
    )
    await fc.assert(
      fc.asyncProperty(parameters, async (p) => {
        const request = {
          v: 1,
          service: service.address,
          user: user.publicKey,
          requestId: newRequestId(),
          parameters: p,
          expiresAt: Math.floor(Date.now() / 1000) + 600,
        }
        const envelope = await sealJson(publicKey, JOB_REQUEST_INFO, { request, voucher })
        const res = await post('/v1/jobs', JSON.stringify(envelope))
        answers.add(res.status === 202 ? 'admitted' : await codeOf(res.clone()))
        await expectClientError(res)
      }),
      { numRuns: RUNS },
    )
    // The bodies reached every refusal of the driver rule, and the one admission.
    for (const code of [
      'admitted',
      'voucher_stale',
      'invalid_parameters',
      'driver_unknown',
      'driver_not_registered',
      'driver_unavailable',
      'driver_interface_mismatch',
    ])
      expect(answers).toContain(code)
  }, 900_000)

  it(`POST /v1/services (${RUNS} bodies)`, async () => {
    const registration = fc.record(
      {
        v: fc.constant(1),
        service: base58,
        descriptor: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 })),
        descriptorCid: fc.string(),
        receiptTokenId: base58,
        triggerToken: fc.record({ v: fc.constant(1), kid: hex16, enc: b64, ct: b64 }),
        signature: base58,
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(bodies(registration), async (body) => {
        await expectClientError(await post('/v1/services', body))
      }),
      { numRuns: RUNS },
    )
  })

  it(`POST /v1/gitlab/webhook (${RUNS} bodies, with and without the token)`, async () => {
    const payload = fc.record(
      {
        object_kind: fc.constantFrom('pipeline', 'build', 'push', ''),
        object_attributes: fc.record(
          {
            id: fc.oneof(fc.nat(), fc.integer(), fc.string()),
            status: fc.string(),
            variables: fc.array(
              fc.record({
                key: fc.constantFrom('ZKRUNNER_JOB_ID', 'ZKRUNNER_SERVICE', 'X'),
                value: fc.oneof(fc.string(), hex16, base58),
              }),
            ),
          },
          { requiredKeys: [] },
        ),
        build_id: fc.nat(),
        build_status: fc.string(),
        pipeline_id: fc.oneof(fc.nat(), fc.string()),
        project_id: fc.nat(),
      },
      { requiredKeys: [] },
    )
    const headers = fc.record(
      {
        'x-gitlab-token': fc.oneof(
          fc.constant(TEST_WEBHOOK_SECRET),
          fc.string({ unit: 'grapheme-ascii' }),
        ),
        'x-gitlab-event': fc.constantFrom('Pipeline Hook', 'Job Hook', 'Push Hook', ''),
        'idempotency-key': fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(bodies(payload), headers, async (body, h) => {
        await expectClientError(await post('/v1/gitlab/webhook', body, h))
      }),
      { numRuns: RUNS },
    )
  })

  it(`POST /v1/jobs/:id/result (${RUNS} bodies and ids)`, async () => {
    const report = fc.record(
      {
        v: fc.constant(1),
        jobId: fc.oneof(hex16, fc.string()),
        bundleCid: fc.string(),
        manifestDigest: fc.string(),
        runner: base58,
        signature: base58,
        exitCode: fc.oneof(fc.integer(), fc.constant(null)),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), bodies(report), async (id, body) => {
        await expectClientError(await post(`/v1/jobs/${encodeURIComponent(id)}/result`, body))
      }),
      { numRuns: RUNS },
    )
  })

  it(`GET /v1/services/:address and /v1/jobs/:id (${RUNS} paths)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 80 }), base58),
        fc.option(fc.string({ maxLength: 60 })),
        async (segment, user) => {
          const id = encodeURIComponent(segment) || 'x'
          const query = user === null ? '' : `?user=${encodeURIComponent(user)}`
          await expectClientError(await app.request(`/v1/services/${id}${query}`, {}, env))
          await expectClientError(await app.request(`/v1/jobs/${id}`, {}, env))
        },
      ),
      { numRuns: RUNS },
    )
  })
})

import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, inject, it } from 'vitest'
import {
  generateMinaKeyPair,
  STATUS_QUERY_MAX_SECONDS,
  signServiceRegistration,
  signStatusQuery,
  statusQueryExpiry,
  statusQueryString,
} from '../protocol/index.ts'
import { TEST_PROJECT_ID, TEST_WEBHOOK_SECRET } from './test-support/constants.ts'
import {
  call,
  fundedUser,
  makeService,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  setGitlabFaults,
  type TestService,
  testEnv,
} from './test-support/fixtures.ts'

// Each attack of issue 14 ("the edge accepts only what it should") against the real Worker in
// workerd, the real GitLab stand-in and the fake chain. Each test fails on the code before the fix.

// Operator A's secret is the one the Worker once shared among all services: the old code let it
// move any service's job.
const SECRET_A = TEST_WEBHOOK_SECRET
const SECRET_B = 'operator-b-webhook-secret-000002'

const stubOf = (service: TestService) =>
  testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))

const jobOf = async (jobId: string) =>
  (await (await call(`/v1/jobs/${jobId}`)).json()) as {
    status: string
    pipeline: { id: number; projectId: number | null; webUrl: string | null } | null
    history: { status: string; source: string }[]
  }

const pipelineHook = (
  jobId: string,
  service: string,
  pipelineId: number,
  status: string,
  extra: { url?: string; projectId?: number } = {},
) => ({
  object_kind: 'pipeline',
  object_attributes: {
    id: pipelineId,
    status,
    url: extra.url ?? `https://gitlab.example.com/p/-/pipelines/${pipelineId}`,
    variables: [
      { key: 'ZKRUNNER_JOB_ID', value: jobId },
      { key: 'ZKRUNNER_SERVICE', value: service },
    ],
  },
  project: { id: extra.projectId ?? TEST_PROJECT_ID },
})

const hook = (secret: string, body: unknown) =>
  postJson('/v1/gitlab/webhook', body, {
    'x-gitlab-token': secret,
    'x-gitlab-event': 'Pipeline Hook',
  })

/** A job whose trigger answer was lost (no API token to look with): its pipeline is not yet known. */
async function untriggeredJob(options: Parameters<typeof registeredService>[0] = {}) {
  const service = await registeredService({ ...options, apiToken: false })
  const user = await fundedUser(service, 100n)
  const { envelope, requestId } = await sealedJob(service, user, {
    cumulativeAmount: 10n,
    nonce: 1n,
  })
  await setGitlabFaults({ trigger: [{ status: 502 }] })
  const res = await postJson('/v1/jobs', envelope)
  await setGitlabFaults({})
  expect(res.status).toBe(202)
  expect((await jobOf(requestId)).status).toBe('trigger_unknown')
  return { service, jobId: requestId }
}

describe('the edge accepts only what it should', () => {
  it('registration: a stranger cannot register a dag-pb service with a descriptor of their own', async () => {
    // The contract holds a dag-pb CID: the descriptor's bytes are not what it hashes, so nothing
    // but a raw CID ties a descriptor (and the runner key that signs) to the chain.
    const service = await makeService({ codec: 0x70 })
    const stranger = generateMinaKeyPair()
    const { signature: _, ...body } = service.registration
    const theirs = signServiceRegistration(
      { ...body, descriptor: { ...service.descriptor, runnerPublicKey: stranger.publicKey } },
      stranger.privateKey,
    )
    for (const registration of [theirs, service.registration]) {
      const res = await postJson('/v1/services', registration)
      expect(res.status).toBe(409)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'descriptor_mismatch',
      )
    }
  })

  describe('webhooks: each service has its own secret and project', () => {
    it("operator A's secret cannot change service B's job status or pipeline link", async () => {
      await registeredService({ webhookSecret: SECRET_A })
      const b = await untriggeredJob({ webhookSecret: SECRET_B })
      const attack = await hook(
        SECRET_A,
        pipelineHook(b.jobId, b.service.address, 777_001, 'success', {
          url: 'https://gitlab.example.com/evil/-/pipelines/1',
        }),
      )
      expect(attack.status).toBe(401)
      expect(await attack.json()).toMatchObject({ error: { code: 'unauthorized' } })
      const job = await jobOf(b.jobId)
      expect(job.status).toBe('trigger_unknown')
      expect(job.pipeline).toBeNull()

      const own = await hook(SECRET_B, pipelineHook(b.jobId, b.service.address, 777_001, 'running'))
      expect(own.status).toBe(200)
      expect((await jobOf(b.jobId)).status).toBe('running')
    })

    it("refuses an event of another project, even with the service's own secret", async () => {
      const b = await untriggeredJob({ webhookSecret: SECRET_B })
      const res = await hook(
        SECRET_B,
        pipelineHook(b.jobId, b.service.address, 777_002, 'success', { projectId: 9999 }),
      )
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ error: { code: 'wrong_project' } })
      expect((await jobOf(b.jobId)).status).toBe('trigger_unknown')
    })

    it('a service that sealed no webhook secret accepts no webhook', async () => {
      const b = await untriggeredJob({ webhookSecret: null })
      const res = await hook(SECRET_B, pipelineHook(b.jobId, b.service.address, 777_003, 'success'))
      expect(res.status).toBe(401)
      expect((await jobOf(b.jobId)).status).toBe('trigger_unknown')
    })
  })

  describe('links: only https on the provider origin', () => {
    it.each([
      ['javascript:alert(document.domain)'],
      ['https://evil.example.net/p/-/pipelines/1'],
      ['http://gitlab.example.com/p/-/pipelines/1'],
      ['https://user:pw@gitlab.example.com/p/-/pipelines/1'],
    ])('a webhook pipeline URL %s is not stored as the link', async (url) => {
      const b = await untriggeredJob({ webhookSecret: SECRET_B })
      const res = await hook(
        SECRET_B,
        pipelineHook(b.jobId, b.service.address, 777_100, 'running', { url }),
      )
      expect(res.status).toBe(200)
      const job = await jobOf(b.jobId)
      expect(job.status).toBe('running')
      expect(job.pipeline).toMatchObject({ id: 777_100, webUrl: null })
    })

    it("keeps an https link on the provider's origin", async () => {
      const b = await untriggeredJob({ webhookSecret: SECRET_B })
      const url = 'https://gitlab.example.com/p/-/pipelines/777101'
      await hook(SECRET_B, pipelineHook(b.jobId, b.service.address, 777_101, 'running', { url }))
      expect((await jobOf(b.jobId)).pipeline?.webUrl).toBe(url)
    })

    it.each([['http://gitlab.example.com'], ['http://127.0.0.1:8929'], ['javascript:alert(1)']])(
      'refuses to register a service whose providerUrl is %s (no dev allowance configured)',
      async (providerUrl) => {
        const service = await makeService({ providerUrl })
        const res = await postJson('/v1/services', service.registration)
        expect(res.status).toBeGreaterThanOrEqual(400)
        expect(res.status).toBeLessThan(500)
      },
    )
  })

  describe('parameters', () => {
    const stringParam = [{ name: 'LABEL', type: 'string' as const, maxLength: 256, required: true }]

    it.each([['CI_DEBUG_TRACE'], ['GIT_STRATEGY'], ['ZKRUNNER_JOB_ID'], ['runner_debug']])(
      'refuses the reserved name %s in a request',
      async (name) => {
        const service = await registeredService({ parameters: stringParam })
        const user = await fundedUser(service, 100n)
        const { envelope } = await sealedJob(service, user, {
          cumulativeAmount: 10n,
          nonce: 1n,
          parameters: { LABEL: 'x', [name]: 'true' },
        })
        const res = await postJson('/v1/jobs', envelope)
        expect(res.status).toBeGreaterThanOrEqual(400)
        expect(res.status).toBeLessThan(500)
      },
    )

    it('refuses a reserved name in a descriptor', async () => {
      const service = await makeService({
        parameters: [{ name: 'CI_JOB_TOKEN', type: 'string', maxLength: 10, required: false }],
      })
      expect((await postJson('/v1/services', service.registration)).status).toBe(400)
    })

    it('refuses control characters in a value', async () => {
      const service = await registeredService({ parameters: stringParam })
      const user = await fundedUser(service, 100n)
      const { envelope } = await sealedJob(service, user, {
        cumulativeAmount: 10n,
        nonce: 1n,
        parameters: { LABEL: 'ok\nZKRUNNER_FORGED=1' },
      })
      const res = await postJson('/v1/jobs', envelope)
      expect(res.status).toBe(400)
    })

    it('a $VAR inside a value reaches the job literally, never expanded by GitLab', async () => {
      const service = await registeredService({ parameters: stringParam })
      const user = await fundedUser(service, 100n)
      // biome-ignore lint/suspicious/noTemplateCurlyInString: GitLab's ${NAME} form, meant literally
      const value = 'a $CI_JOB_TOKEN ${CI_PROJECT_ID} $$ b'
      const { envelope, requestId } = await sealedJob(service, user, {
        cumulativeAmount: 10n,
        nonce: 1n,
        parameters: { LABEL: value },
      })
      expect((await postJson('/v1/jobs', envelope)).status).toBe(202)
      const res = await fetch(`${inject('gitlabUrl')}/__standin/pipelines`)
      const { pipelines } = (await res.json()) as {
        pipelines: {
          variables: { key: string; value: string }[]
          jobVariables?: Record<string, string>
        }[]
      }
      const pipeline = pipelines.find((p) =>
        p.variables.some((v) => v.key === 'ZKRUNNER_JOB_ID' && v.value === requestId),
      )
      expect(pipeline?.jobVariables?.LABEL).toBe(value)
      expect(pipeline?.jobVariables?.ZKRUNNER_JOB_ID).toBe(requestId)
    })

    it('refuses to register a catastrophic operator regex', async () => {
      const service = await makeService({
        parameters: [
          { name: 'LABEL', type: 'string', maxLength: 4096, required: true, pattern: '(a+)+$' },
        ],
      })
      const res = await postJson('/v1/services', service.registration)
      expect(res.status).toBe(400)
      expect(await res.text()).toContain('catastrophic')
    })
  })

  describe('robustness', () => {
    it('an error in one job inside alarm() does not stop the others', async () => {
      const service = await registeredService()
      const user = await fundedUser(service, 100n)
      const ids: string[] = []
      // GitLab rate-limits every attempt for a while: all three jobs are handed to the alarm.
      await setGitlabFaults({
        trigger: Array.from({ length: 3 }, () => ({ status: 429, retryAfter: 30 })),
      })
      for (let nonce = 1n; nonce <= 3n; nonce++) {
        const { envelope, requestId } = await sealedJob(service, user, {
          cumulativeAmount: nonce * 10n,
          nonce,
        })
        expect((await postJson('/v1/jobs', envelope)).status).toBe(202)
        ids.push(requestId)
      }
      await setGitlabFaults({})
      // The first job's stored variables are corrupt: its trigger throws inside the alarm.
      await runInDurableObject(stubOf(service), (_instance, state) => {
        state.storage.sql.exec("UPDATE jobs SET variables = '{not json' WHERE job_id = ?", ids[0])
        state.storage.sql.exec('UPDATE jobs SET next_attempt_at = 0')
      })
      await runDurableObjectAlarm(stubOf(service))
      expect((await jobOf(ids[1]!)).status).toBe('triggered')
      expect((await jobOf(ids[2]!)).status).toBe('triggered')
      expect((await jobOf(ids[0]!)).status).toBe('queued')
    })

    it('answers 202, not an error, for a job admitted and charged whose trigger then fails', async () => {
      const service = await registeredService()
      const user = await fundedUser(service, 100n)
      // The sealed credentials stop opening (as after a key rotated out) between admission and trigger.
      await runInDurableObject(stubOf(service), (_instance, state) => {
        const row = state.storage.sql
          .exec<{ body: string }>('SELECT body FROM registration WHERE id = 1')
          .one()
        const body = JSON.parse(row.body) as { triggerToken: { ct: string } }
        body.triggerToken.ct = `${body.triggerToken.ct.slice(0, -4)}AAAA`
        state.storage.sql.exec(
          'UPDATE registration SET body = ? WHERE id = 1',
          JSON.stringify(body),
        )
      })
      const { envelope, requestId } = await sealedJob(service, user, {
        cumulativeAmount: 10n,
        nonce: 1n,
      })
      const res = await postJson('/v1/jobs', envelope)
      expect(res.status).toBe(202)
      expect(await res.json()).toMatchObject({ jobId: requestId, status: 'trigger_failed' })
      expect((await jobOf(requestId)).status).toBe('trigger_failed')
      expect((await pipelinesFor(requestId)).pipelines).toHaveLength(0)
    })
  })

  it("funding: nobody reads a user's funding or voucher without that user's fresh signed status query", async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 100n)
    const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    expect((await postJson('/v1/jobs', envelope)).status).toBe(202)
    const base = `/v1/services/${service.address}`
    const now = Math.floor(Date.now() / 1000)
    const signed = (signer: typeof user, expires: number) =>
      statusQueryString(signStatusQuery({ user: user.publicKey, expires }, signer.privateKey))
    const stranger = generateMinaKeyPair()
    // The old route answered this with the user's deposit, owed amount and latest voucher.
    const bare = await call(`${base}?user=${user.publicKey}`)
    expect(bare.status).toBe(401)
    const attempts = [
      signed(stranger, statusQueryExpiry()),
      signed(user, now - 1),
      signed(user, now + STATUS_QUERY_MAX_SECONDS + 60),
    ]
    for (const q of attempts) {
      const res = await call(`${base}${q}`)
      expect(res.status).toBe(403)
      expect(await res.text()).not.toContain('cumulativeAmount')
    }
    // Without a user, only what the chain shows anyone.
    const open = (await (await call(base)).json()) as { chain: { funding?: unknown } }
    expect(open.chain.funding).toBeUndefined()
    // The user's own fresh query reads it.
    const own = (await (await call(`${base}${signed(user, statusQueryExpiry())}`)).json()) as {
      chain: { funding: { owed: string; voucher: { nonce: string } | null } }
    }
    expect(own.chain.funding).toMatchObject({ owed: '10', voucher: { nonce: '1' } })
  })
})

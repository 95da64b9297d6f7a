import { env } from 'cloudflare:workers'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  TEST_API_TOKEN,
  TEST_TRIGGER_TOKEN,
  TEST_WEBHOOK_SECRET,
} from './test-support/constants.ts'
import {
  call,
  fundedUser,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
  setGitlabFaults,
} from './test-support/fixtures.ts'

const logged: string[] = []

beforeEach(() => {
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(
        args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : String(a))).join(' '),
      )
    })
  }
})
afterEach(() => vi.restoreAllMocks())

describe('secrets', () => {
  it('no trigger token, API token, webhook secret or HPKE private key in any response or log line', async () => {
    const secrets = [
      TEST_TRIGGER_TOKEN,
      TEST_API_TOKEN,
      TEST_WEBHOOK_SECRET,
      String(env.HPKE_PRIVATE_KEY),
    ]
    const texts: string[] = []
    const record = async (res: Response) => {
      texts.push(await res.text(), JSON.stringify([...res.headers]))
    }
    const service = await registeredService()
    const user = await fundedUser(service, 100n)
    await record(await call('/v1/keys'))
    await record(await call(serviceStatusPath(service, user)))
    await record(await postJson('/v1/services', service.registration))
    await setGitlabFaults({
      trigger: [
        { status: 500, created: true },
        { status: 429, retryAfter: 0 },
      ],
    })
    for (let nonce = 1n; nonce <= 3n; nonce++) {
      const { envelope, requestId } = await sealedJob(service, user, {
        cumulativeAmount: nonce * 10n,
        nonce,
      })
      await record(await postJson('/v1/jobs', envelope))
      await record(await postJson('/v1/jobs', envelope))
      await record(await call(`/v1/jobs/${requestId}`))
    }
    await setGitlabFaults({})
    await record(await postJson('/v1/gitlab/webhook', '{}', { 'x-gitlab-token': 'wrong' }))
    await record(await postJson('/v1/jobs', '{"v":1}'))
    await record(await postJson('/v1/services', { ...service.registration, signature: 'x' }))
    expect(texts.length).toBeGreaterThan(10)
    for (const secret of secrets) {
      for (const text of [...texts, ...logged]) expect(text).not.toContain(secret)
    }
  })
})

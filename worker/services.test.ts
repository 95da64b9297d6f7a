import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  generateMinaKeyPair,
  ServiceState,
  sealJson,
  signServiceRetirement,
  TRIGGER_TOKEN_INFO,
  type Voucher,
  verifyVoucher,
} from '../protocol/index.ts'
import {
  call,
  depositFor,
  errorOf,
  fundedUser,
  genuineServiceCode,
  genuineVault,
  makeService,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
  setChainAccount,
  setSlot,
  setVault,
  type TestService,
} from './test-support/fixtures.ts'
import {
  fixtureLedgerAddress,
  fixtureLedgerX,
  genuineLedger,
} from './test-support/ledger-fixture.ts'

describe('GET /v1/keys', () => {
  it('answers the HPKE suite, key id and public key, and nothing private', async () => {
    const res = await call('/v1/keys')
    expect(res.status).toBe(200)
    const text = await res.text()
    const body = JSON.parse(text) as {
      suite: string
      kid: string
      publicKey: string
      keys: unknown[]
    }
    expect(body.suite).toBe('DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/ChaCha20Poly1305')
    expect(body.kid).toMatch(/^[0-9a-f]{16}$/)
    expect(body.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(body.keys).toEqual([{ kid: body.kid, publicKey: body.publicKey, current: true }])
    expect(text).not.toContain(String(env.HPKE_PRIVATE_KEY))
  })
})

describe('POST /v1/services', () => {
  it('registers a service whose descriptor matches the chain and is signed by its runner key', async () => {
    const service = await makeService()
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ service: service.address })
    // Registering again (a new token, say) is allowed under the same checks.
    expect((await postJson('/v1/services', service.registration)).status).toBe(201)
  })

  it('refuses a registration whose signature does not cover its body', async () => {
    const service = await makeService()
    const tampered = {
      ...service.registration,
      descriptor: { ...service.registration.descriptor, name: 'renamed' },
    }
    const res = await postJson('/v1/services', tampered)
    expect(res.status).toBe(403)
    expect((await errorOf(res)).code).toBe('bad_signature')
  })

  it('refuses a descriptor that differs from the service contract', async () => {
    const service = await makeService({ price: 10n })
    // The chain says 11 per job; the signed descriptor says 10.
    const other = await makeService({ price: 11n })
    // Its own ledger, with the chain's terms: only the descriptor differs.
    const state = await stateOf(other.address)
    state[ServiceState.ledger] = String(fixtureLedgerX(service.address))
    await setChainAccount(
      fixtureLedgerAddress(service.address),
      genuineLedger(service.address, state),
    )
    await setChainAccount(service.address, { ...genuineServiceCode(), zkappState: state })
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(409)
    expect((await errorOf(res)).code).toBe('descriptor_mismatch')
  })

  it('refuses an address with no service contract, and a token sealed to another key', async () => {
    const service = await makeService()
    await setChainAccount(service.address, {})
    const none = await postJson('/v1/services', service.registration)
    expect(none.status).toBe(404)
    expect((await errorOf(none)).code).toBe('unknown_service')
  })

  it('refuses an old registration naming a receipt token, keeps the good one, and counts ledger deposits only', async () => {
    const service = await registeredService({ price: 10n })
    const { signServiceRegistration, receiptTokenIdOf } = await import('../protocol/index.ts')
    const receiptTokenId = receiptTokenIdOf(service.address)
    if (!receiptTokenId.ok) throw receiptTokenId.error
    // Signed by the service's own runner key, in the shape registrations had before the ledger.
    const old = signServiceRegistration(
      { ...service.registration, receiptTokenId: receiptTokenId.value } as never,
      service.operator.privateKey,
    )
    const res = await postJson('/v1/services', old)
    expect(res.status).toBe(409)
    expect(await errorOf(res)).toMatchObject({
      code: 'registration_outdated',
      message: expect.stringContaining('register again'),
    })
    // A balance of the old receipt token buys nothing; a deposit into the ledger counts.
    const user = generateMinaKeyPair()
    await setChainAccount(user.publicKey, { balance: '1000' }, receiptTokenId.value)
    await depositFor(service, user.publicKey, 15n)
    const status = await (await call(serviceStatusPath(service, user))).json()
    expect(status).toMatchObject({
      registered: true,
      enabled: true,
      chain: { funding: { deposit: '15' } },
    })
  })

  it('refuses a trigger token sealed to a key the Worker does not hold', async () => {
    const stranger = await generateHpkeKeyPair()
    const service = await makeService()
    const { signServiceRegistration } = await import('../protocol/index.ts')
    const { signature: _s, ...body } = service.registration
    const resealed = signServiceRegistration(
      { ...body, triggerToken: await sealJson(stranger.publicKey, TRIGGER_TOKEN_INFO, 'glptt-x') },
      service.operator.privateKey,
    )
    const res = await postJson('/v1/services', resealed)
    expect(res.status).toBe(400)
    expect((await errorOf(res)).code).toBe('unknown_key_id')
  })
})

async function stateOf(address: string): Promise<string[]> {
  const url = (await import('vitest')).inject('minaUrl')
  const res = await fetch(url, {
    method: 'POST',
    body: JSON.stringify({ query: `{ account(publicKey: "${address}") { zkappState } }` }),
  })
  return ((await res.json()) as { data: { account: { zkappState: string[] } } }).data.account
    .zkappState
}

describe('POST /v1/services/:address/retire', () => {
  const retire = async (service: TestService, key = service.operator.privateKey, at = Date.now()) =>
    postJson(
      `/v1/services/${service.address}/retire`,
      signServiceRetirement({ service: service.address, at }, key),
    )

  it('retires a version for its runner key alone, once, and admits no new job afterwards', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 100n)
    // A stranger's key, and the runner's signature from long ago, retire nothing.
    const stranger = await retire(service, generateMinaKeyPair().privateKey)
    expect(stranger.status).toBe(403)
    expect((await errorOf(stranger)).code).toBe('bad_signature')
    const old = await retire(service, service.operator.privateKey, Date.now() - 3_600_000)
    expect((await errorOf(old)).code).toBe('expired')
    expect(await (await call(`/v1/services/${service.address}`)).json()).toMatchObject({
      enabled: true,
      retired: false,
    })

    const first = await retire(service)
    expect(first.status).toBe(200)
    const { retiredAt } = (await first.json()) as { retiredAt: string }
    // Idempotent: retiring again answers the first retirement.
    expect(await (await retire(service)).json()).toMatchObject({ retired: true, retiredAt })
    expect(await (await call(`/v1/services/${service.address}`)).json()).toMatchObject({
      enabled: false,
      reason: 'retired',
      retired: true,
      retiredAt,
    })
    const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 1n })
    const job = await postJson('/v1/jobs', envelope)
    expect(job.status).toBe(409)
    expect((await errorOf(job)).code).toBe('service_retired')
    // Final: the old registration posted again does not revive the version.
    const again = await postJson('/v1/services', service.registration)
    expect(again.status).toBe(409)
    expect((await errorOf(again)).code).toBe('service_retired')
  })

  it('refuses a retirement of an unregistered service or one naming another address', async () => {
    const service = await makeService()
    expect((await errorOf(await retire(service))).code).toBe('unknown_service')
    const registered = await registeredService()
    const res = await postJson(
      `/v1/services/${registered.address}/retire`,
      signServiceRetirement(
        { service: service.address, at: Date.now() },
        service.operator.privateKey,
      ),
    )
    expect(res.status).toBe(422)
  })
})

describe('GET /v1/services/:address/summary', () => {
  it('adds up the jobs: charged with a result, pending without one', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 100n)
    const summary = async () =>
      (await call(`/v1/services/${service.address}/summary`)).json() as Promise<unknown>
    expect(await summary()).toEqual({
      service: service.address,
      jobs: 0,
      charged: { jobs: 0, amount: '0' },
      pending: { jobs: 0, amount: '0' },
      notCharged: 0,
    })
    for (const [amount, nonce] of [
      [10n, 1n],
      [20n, 2n],
    ] as const) {
      const { envelope } = await sealedJob(service, user, { cumulativeAmount: amount, nonce })
      expect((await postJson('/v1/jobs', envelope)).status).toBe(202)
    }
    expect(await summary()).toMatchObject({
      jobs: 2,
      charged: { jobs: 0, amount: '0' },
      pending: { jobs: 2, amount: '20' },
      notCharged: 0,
    })
  })
})

describe('GET /v1/services/:address', () => {
  it('reports enabled, with the chain figures and, for a user, the funding', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 15n)
    const res = await call(serviceStatusPath(service, user))
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      service: service.address,
      enabled: true,
      registered: true,
      descriptorCid: service.descriptorCid,
      chain: { pricePerJob: '10', funding: { deposit: '15', owed: '0' } },
    })
  })

  it('returns with the funding the latest voucher the user signed, which proves what is owed', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 100n)
    const funding = async () =>
      (
        (await (await call(serviceStatusPath(service, user))).json()) as {
          chain: { funding: { owed: string; voucher: Voucher | null } }
        }
      ).chain.funding
    expect(await funding()).toMatchObject({ owed: '0', voucher: null })
    for (const [amount, nonce] of [
      [10n, 1n],
      [20n, 2n],
    ] as const) {
      const { envelope, requestId } = await sealedJob(service, user, {
        cumulativeAmount: amount,
        nonce,
      })
      expect((await postJson('/v1/jobs', envelope)).status).toBe(202)
      // GET /v1/jobs/:id says what the user signed for that job.
      expect(await (await call(`/v1/jobs/${requestId}`)).json()).toMatchObject({
        voucher: { cumulativeAmount: String(amount), nonce: String(nonce) },
      })
    }
    const { owed, voucher } = await funding()
    expect(owed).toBe('20')
    expect(voucher).toMatchObject({
      user: user.publicKey,
      service: service.address,
      cumulativeAmount: '20',
      nonce: '2',
    })
    // The page checks it with the user's own key: the returned voucher is the user's signature.
    expect(verifyVoucher(voucher!).ok).toBe(true)
  })

  it('reports disabled with the reason: insufficient deposit, stale heartbeat, unknown', async () => {
    const service = await registeredService({ price: 10n })
    const poor = await fundedUser(service, 9n)
    const funding = await (await call(serviceStatusPath(service, poor))).json()
    expect(funding).toMatchObject({ enabled: false, reason: 'insufficient-deposit' })

    await setSlot(5000)
    const stale = await (await call(`/v1/services/${service.address}`)).json()
    expect(stale).toMatchObject({ enabled: false, reason: 'stale-heartbeat' })
    await setSlot(1000)

    // A runner that never sent a heartbeat is not live, however young the chain (the rule the
    // contracts' reader and the Worker used to disagree on).
    const silent = await registeredService({ price: 10n, heartbeatSlot: 0 })
    expect(await (await call(`/v1/services/${silent.address}`)).json()).toMatchObject({
      enabled: false,
      reason: 'no-heartbeat',
    })

    const unknown = await (await call(`/v1/services/${generateMinaKeyPair().publicKey}`)).json()
    expect(unknown).toMatchObject({ enabled: false, reason: 'unknown-service', registered: false })
  })

  it('answers 400 for an address that is not a Mina key', async () => {
    const res = await call('/v1/services/not-an-address')
    expect(res.status).toBe(400)
    expect((await errorOf(res)).code).toBe('invalid_body')
  })
})

// Operators cannot take deposits: the Worker registers and admits only genuine, frozen services.
describe('unsafe services', () => {
  it("refuses to register a service whose ledger's escrow is a plain account (the fake vault)", async () => {
    const service = await makeService({ vault: { balance: '2000' } })
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(409)
    expect(await errorOf(res)).toMatchObject({ code: 'unsafe_service' })
    expect((await errorOf(await postJson('/v1/services', service.registration))).message).toContain(
      'NO_LEDGER_VAULT',
    )
  })

  it('refuses a service running other code or with permissions that are not frozen', async () => {
    const other = await makeService({ serviceCode: { verificationKey: { hash: '999' } } })
    const res = await postJson('/v1/services', other.registration)
    expect(res.status).toBe(409)
    expect((await errorOf(res)).message).toContain('WRONG_CODE')
    const loose = genuineVault('0')
    const unfrozen = await makeService({
      vault: { ...loose, permissions: { ...loose.permissions, send: 'Signature' } },
    })
    const res2 = await postJson('/v1/services', unfrozen.registration)
    expect(res2.status).toBe(409)
    expect((await errorOf(res2)).message).toContain('ledger vault permission send is Signature')
  })

  it('refuses jobs and reports the service unsafe once its vault is not genuine', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 100n)
    await setVault(service.address, { balance: '100' })
    const { envelope } = await sealedJob(service, user, { cumulativeAmount: 10n, nonce: 0n })
    const res = await postJson('/v1/jobs', envelope)
    expect(res.status).toBe(409)
    expect((await errorOf(res)).code).toBe('unsafe_service')
    expect(await (await call(`/v1/services/${service.address}`)).json()).toMatchObject({
      enabled: false,
      reason: 'unsafe-service',
      chain: { unsafe: { code: 'NO_LEDGER_VAULT' } },
    })
  })
})

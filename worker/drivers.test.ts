import { describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  type ServiceDescriptor,
  signServiceRetirement,
} from '../protocol/index.ts'
import {
  call,
  errorOf,
  fundedUser,
  makeService,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
  type TestService,
} from './test-support/fixtures.ts'

// A higher-order service takes another service (its driver) as a `service` parameter. The Worker
// checks the driver by protocol's one rule (checkDriver) before anything is charged or triggered.

/** What the driver must offer: OPT (enum) to set, `primes` (integer) to read. */
const driverParameters: ServiceDescriptor['parameters'] = [
  { name: 'OPT', type: 'enum', values: ['O0', 'O2'], required: true },
]
const driverOutputs: ServiceDescriptor['outputs'] = [
  { name: 'primes', type: 'integer', required: true },
]

/** The outer service: DRIVER must be a live, registered service matching the interface. */
const outer = () =>
  registeredService({
    parameters: [
      {
        name: 'DRIVER',
        type: 'service',
        required: true,
        interface: {
          parameters: [{ name: 'OPT', type: 'enum' }],
          outputs: [{ name: 'primes', type: 'integer' }],
        },
      },
    ],
  })

/** Asks `service` for one job driven by `driver`, at the first voucher of a fresh user. */
async function ask(service: TestService, driver: string) {
  const user = await fundedUser(service, 100n)
  const job = await sealedJob(service, user, {
    cumulativeAmount: 10n,
    nonce: 1n,
    parameters: { DRIVER: driver },
  })
  return { user, ...job, res: await postJson('/v1/jobs', job.envelope) }
}

/** Checks a refused request charged nothing: no job, no trigger, the channel where it was. */
async function expectNothingCharged(
  service: TestService,
  refused: Awaited<ReturnType<typeof ask>>,
  driver: string,
) {
  expect((await call(`/v1/jobs/${refused.requestId}`)).status).toBe(404)
  expect((await pipelinesFor(refused.requestId)).pipelines).toHaveLength(0)
  const status = (await (await call(serviceStatusPath(service, refused.user))).json()) as {
    chain: { funding: { owed: string; voucher: unknown } }
  }
  expect(status.chain.funding).toMatchObject({ owed: '0', voucher: null })
  // The same first voucher (nonce 1, 10 credits) is still good, with a driver that matches.
  const again = await sealedJob(service, refused.user, {
    cumulativeAmount: 10n,
    nonce: 1n,
    parameters: { DRIVER: driver },
  })
  expect((await postJson('/v1/jobs', again.envelope)).status).toBe(202)
}

describe('a service parameter (a driver) is checked by the driver rule before anything is charged', () => {
  it('admits a live, registered driver that matches the interface, and passes its address to the job', async () => {
    const service = await outer()
    const driver = await registeredService({
      parameters: driverParameters,
      outputs: driverOutputs,
    })
    const { res, requestId } = await ask(service, driver.address)
    expect(res.status).toBe(202)
    const { pipelines } = await pipelinesFor(requestId)
    const variables = Object.fromEntries(pipelines[0]!.variables.map((v) => [v.key, v.value]))
    expect(variables.DRIVER).toBe(driver.address)
  })

  it('refuses a driver with the wrong interface: 422 driver_interface_mismatch naming what is missing', async () => {
    const service = await outer()
    const good = await registeredService({ parameters: driverParameters, outputs: driverOutputs })
    // Declares OPT, but no `primes` output: the outer job could not read what it needs.
    const noOutput = await registeredService({ parameters: driverParameters })
    const refused = await ask(service, noOutput.address)
    expect(refused.res.status).toBe(422)
    const error = await errorOf(refused.res)
    expect(error.code).toBe('driver_interface_mismatch')
    expect(error.message).toContain('does not declare output primes (integer)')
    await expectNothingCharged(service, refused, good.address)
    // OPT as a string is not the enum the interface names.
    const mistyped = await registeredService({
      parameters: [{ name: 'OPT', type: 'string', maxLength: 4, required: true }],
      outputs: driverOutputs,
    })
    const second = await ask(service, mistyped.address)
    expect(second.res.status).toBe(422)
    expect((await errorOf(second.res)).message).toContain('its parameter OPT is string, not enum')
  })

  it('refuses an address with no service contract: 422 driver_unknown', async () => {
    const service = await outer()
    const good = await registeredService({ parameters: driverParameters, outputs: driverOutputs })
    const refused = await ask(service, generateMinaKeyPair().publicKey)
    expect(refused.res.status).toBe(422)
    expect((await errorOf(refused.res)).code).toBe('driver_unknown')
    await expectNothingCharged(service, refused, good.address)
  })

  it('refuses a contract never registered with the Worker: 422 driver_not_registered', async () => {
    const service = await outer()
    const good = await registeredService({ parameters: driverParameters, outputs: driverOutputs })
    const unregistered = await makeService({ parameters: driverParameters, outputs: driverOutputs })
    const refused = await ask(service, unregistered.address)
    expect(refused.res.status).toBe(422)
    expect((await errorOf(refused.res)).code).toBe('driver_not_registered')
    await expectNothingCharged(service, refused, good.address)
  })

  it('refuses a retired driver and one whose runner looks offline: 422 driver_unavailable with the reason', async () => {
    const service = await outer()
    const good = await registeredService({ parameters: driverParameters, outputs: driverOutputs })
    const retired = await registeredService({
      parameters: driverParameters,
      outputs: driverOutputs,
    })
    const retirement = signServiceRetirement(
      { service: retired.address, at: Date.now() },
      retired.operator.privateKey,
    )
    expect((await postJson(`/v1/services/${retired.address}/retire`, retirement)).status).toBe(200)
    const refused = await ask(service, retired.address)
    expect(refused.res.status).toBe(422)
    const error = await errorOf(refused.res)
    expect(error.code).toBe('driver_unavailable')
    expect(error.message).toContain('(retired)')
    await expectNothingCharged(service, refused, good.address)

    // Its last heartbeat 500 slots ago (the Worker allows 60): stale.
    const offline = await registeredService({
      parameters: driverParameters,
      outputs: driverOutputs,
      heartbeatSlot: 500,
    })
    const stale = await ask(service, offline.address)
    expect(stale.res.status).toBe(422)
    const staleError = await errorOf(stale.res)
    expect(staleError.code).toBe('driver_unavailable')
    expect(staleError.message).toContain('(stale-heartbeat)')
  })

  it('reads a service named as its own driver in place (no call to itself) and judges it by the rule', async () => {
    const service = await outer()
    const good = await registeredService({ parameters: driverParameters, outputs: driverOutputs })
    const refused = await ask(service, service.address)
    expect(refused.res.status).toBe(422)
    const error = await errorOf(refused.res)
    expect(error.code).toBe('driver_interface_mismatch')
    expect(error.message).toContain('does not declare parameter OPT (enum)')
    await expectNothingCharged(service, refused, good.address)
  })

  it('refuses a driver value that is not an address before reading anything: 422 invalid_parameters', async () => {
    const service = await outer()
    const refused = await ask(service, 'not-an-address')
    expect(refused.res.status).toBe(422)
    expect((await errorOf(refused.res)).code).toBe('invalid_parameters')
  })
})

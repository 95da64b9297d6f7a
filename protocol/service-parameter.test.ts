import { describe, expect, test } from 'vitest'
import { PARAMETER_TYPES, ParameterSpecSchema, validateParameters } from './parameters.ts'
import { parseWith } from './parse.ts'
import { ServiceUnavailable } from './service-availability.ts'
import type { ServiceDescriptor } from './service-descriptor.ts'
import {
  checkDriver,
  type DriverFacts,
  DriverRefusal,
  driverParameters,
  type ServiceParameterSpec,
} from './service-parameter.ts'
import { keys, descriptor as primes } from './vectors/inputs.ts'

// The driver a "compare optimisation levels" service wants: it sets OPT and LIMIT and reads the
// job's `primes` output. The vectors' primes descriptor, with that output declared.
const driver: ServiceDescriptor = {
  ...primes,
  outputs: [{ name: 'primes', type: 'integer', required: true }],
}
const spec: ServiceParameterSpec = {
  name: 'DRIVER',
  type: 'service',
  required: true,
  interface: {
    parameters: [
      { name: 'OPT', type: 'enum' },
      { name: 'LIMIT', type: 'integer' },
    ],
    outputs: [{ name: 'primes', type: 'integer' }],
  },
}
const address = keys.service.publicKey
const live: DriverFacts = { availability: { enabled: true }, registered: true, descriptor: driver }
const refused = (facts: DriverFacts, s: ServiceParameterSpec = spec) => {
  const verdict = checkDriver(s, address, facts)
  if (verdict.ok) throw new Error('admitted')
  return verdict
}

describe('checkDriver, the one rule for a service parameter', () => {
  test('a live, registered version whose descriptor declares the interface is a driver', () => {
    expect(checkDriver(spec, address, live)).toEqual({ ok: true })
    // Without an interface, any live registered service whose parameters all have defaults or
    // are optional matches; primes requires LIMIT, which nobody would pass.
    const bare: ServiceParameterSpec = { name: 'DRIVER', type: 'service', required: true }
    expect(refused(live, bare).message).toContain('requires parameter LIMIT')
    const optional = { ...driver, parameters: driver.parameters.filter((p) => p.name !== 'LIMIT') }
    expect(checkDriver(bare, address, { ...live, descriptor: optional })).toEqual({ ok: true })
  })

  test('no contract at the address: unknown-service', () => {
    const v = refused({ availability: null, registered: false, descriptor: null })
    expect(v.code).toBe(DriverRefusal.UNKNOWN_SERVICE)
    expect(v.path).toEqual(['parameters', 'DRIVER'])
    expect(v.message).toBe(`DRIVER: unknown-service: ${address} is not a service contract`)
  })

  test('a contract that is not a registered version: not-registered', () => {
    expect(refused({ ...live, registered: false }).code).toBe(DriverRefusal.NOT_REGISTERED)
  })

  test.each([
    ServiceUnavailable.RETIRED,
    ServiceUnavailable.STALE_HEARTBEAT,
    ServiceUnavailable.UNSAFE_SERVICE,
    ServiceUnavailable.PROVIDER_QUOTA,
  ])('a version the availability rule disables (%s): unavailable, with its reason', (reason) => {
    const v = refused({ ...live, availability: { enabled: false, reason } })
    expect(v.code).toBe(DriverRefusal.UNAVAILABLE)
    expect(v.reason).toBe(reason)
    expect(v.message).toContain(`(${reason})`)
  })

  test('a descriptor that could not be read: unknown-service', () => {
    expect(refused({ ...live, descriptor: null }).code).toBe(DriverRefusal.UNKNOWN_SERVICE)
  })

  test.each([
    [
      'a missing parameter',
      { ...driver, parameters: driver.parameters.filter((p) => p.name !== 'OPT') },
      'it does not declare parameter OPT (enum)',
    ],
    [
      'a parameter of another type',
      {
        ...driver,
        parameters: driver.parameters.map((p) =>
          p.name === 'LIMIT'
            ? { name: 'LIMIT', type: 'string' as const, required: true, maxLength: 8 }
            : p,
        ),
      },
      'its parameter LIMIT is string, not integer',
    ],
    [
      'a required parameter the interface does not pass',
      {
        ...driver,
        parameters: [
          ...driver.parameters,
          { name: 'TOKEN', type: 'boolean' as const, required: true },
        ],
      },
      'it requires parameter TOKEN, which the interface does not pass',
    ],
    [
      'no outputs',
      { ...driver, outputs: undefined },
      'it does not declare output primes (integer)',
    ],
    [
      'an output of another type',
      {
        ...driver,
        outputs: [{ name: 'primes', type: 'string' as const, required: true, maxBytes: 8 }],
      },
      'its output primes is string, not integer',
    ],
    [
      'an optional output',
      { ...driver, outputs: [{ name: 'primes', type: 'integer' as const, required: false }] },
      'its output primes is optional',
    ],
  ])('%s: interface-mismatch naming it', (_, descriptor, problem) => {
    const v = refused({ ...live, descriptor: descriptor as ServiceDescriptor })
    expect(v.code).toBe(DriverRefusal.INTERFACE_MISMATCH)
    expect(v.message).toContain(problem)
  })

  test('reasons come in one order: unknown, not registered, unavailable, then the interface', () => {
    const mismatched = { ...driver, outputs: undefined }
    const all: DriverFacts = {
      availability: { enabled: false, reason: ServiceUnavailable.RETIRED },
      registered: false,
      descriptor: mismatched,
    }
    expect(refused({ ...all, availability: null }).code).toBe('unknown-service')
    expect(refused(all).code).toBe('not-registered')
    expect(refused({ ...all, registered: true }).code).toBe('unavailable')
    expect(refused({ ...all, registered: true, availability: { enabled: true } }).code).toBe(
      'interface-mismatch',
    )
  })
})

describe('the service parameter type', () => {
  test('its value is a service contract address, checked by the key schema', () => {
    expect(validateParameters([spec], { DRIVER: address })).toEqual({
      ok: true,
      value: { DRIVER: address },
    })
    for (const bad of ['', 'B62', `${address.slice(0, -1)}x`, 'not an address']) {
      const r = validateParameters([spec], { DRIVER: bad })
      expect(!r.ok && r.error.message).toContain('must be a service contract address')
    }
    const r = validateParameters([spec], { DRIVER: 7 })
    expect(!r.ok && r.error.path).toEqual(['parameters', 'DRIVER'])
    const missing = validateParameters([spec], {})
    expect(!missing.ok && missing.error.message).toContain('required')
  })

  test('driverParameters names each service parameter the request sets', () => {
    const specs = [...primes.parameters, spec, { ...spec, name: 'OTHER', required: false }]
    expect(driverParameters(specs, { LIMIT: '5', DRIVER: address })).toEqual([{ spec, address }])
  })

  test('an interface names each parameter and output once, with a known type', () => {
    const parse = (i: unknown) =>
      parseWith(ParameterSpecSchema, { name: 'D', type: 'service', interface: i })
    expect(parse({ parameters: [{ name: 'OPT', type: 'enum' }] }).ok).toBe(true)
    expect(parse({}).ok).toBe(true)
    expect(parse({ parameters: [{ name: 'OPT', type: 'float' }] }).ok).toBe(false)
    expect(parse({ outputs: [{ name: 'x', type: 'enum' }] }).ok).toBe(false)
    expect(
      parse({
        outputs: [
          { name: 'x', type: 'cid' },
          { name: 'x', type: 'cid' },
        ],
      }).ok,
    ).toBe(false)
    expect(parse({ parameters: [{ name: 'CI_JOB_TOKEN', type: 'string' }] }).ok).toBe(false)
    expect(parse({ extra: [] }).ok).toBe(false)
  })

  test('PARAMETER_TYPES lists every type a spec may have', () => {
    const types = ParameterSpecSchema.options.map((o) => o.shape.type.value)
    expect([...types].sort()).toEqual([...PARAMETER_TYPES].sort())
  })
})

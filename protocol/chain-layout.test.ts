import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  commitToField,
  decodeHeartbeat,
  decodeTerms,
  encodeHeartbeat,
  encodeTerms,
  fieldToCommit,
  holdsServiceState,
  SERVICE_STATE_FIELDS,
  ServiceState,
} from './chain-layout.ts'

describe('packed state fields', () => {
  test('terms and heartbeat round trip within their bit widths', () => {
    fc.assert(
      fc.property(fc.bigInt(0n, (1n << 64n) - 1n), fc.bigInt(0n, (1n << 32n) - 1n), (a, b) => {
        expect(decodeTerms(encodeTerms({ pricePerJob: a, withdrawTimelockSlots: b }))).toEqual({
          pricePerJob: a,
          withdrawTimelockSlots: b,
        })
        expect(decodeHeartbeat(encodeHeartbeat({ lastHeartbeatSlot: b, settledJobs: a }))).toEqual({
          lastHeartbeatSlot: b,
          settledJobs: a,
        })
      }),
    )
  })

  test('a commit SHA survives the field, leading zeros included', () => {
    const sha = '00000000e387550fdab836ed7e6dc881de23001b'
    expect(fieldToCommit(commitToField(sha))).toBe(sha)
  })
})

describe('holdsServiceState', () => {
  test('an account holds the layout when it has a field for every index, and more is fine', () => {
    expect(SERVICE_STATE_FIELDS).toBe(Object.keys(ServiceState).length)
    const fields = (n: number) => Array.from({ length: n }, () => 0n)
    expect(holdsServiceState(fields(SERVICE_STATE_FIELDS))).toBe(true)
    expect(holdsServiceState(fields(32))).toBe(true)
    expect(holdsServiceState(fields(SERVICE_STATE_FIELDS - 1))).toBe(false)
    expect(holdsServiceState([])).toBe(false)
    expect(holdsServiceState(null)).toBe(false)
    expect(holdsServiceState(undefined)).toBe(false)
  })
})

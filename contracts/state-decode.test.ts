import { Field, UInt32, UInt64 } from 'o1js'
import { describe, expect, it } from 'vitest'
import { Heartbeat, Terms } from './packing.ts'
import {
  decodeHeartbeat,
  decodeServiceState,
  decodeTerms,
  encodeTerms,
  sourceCommitmentToSha1,
} from './state-decode.ts'

describe('state decoders agree with the circuit packing', () => {
  it('terms and heartbeat round-trip', () => {
    const t = new Terms({
      pricePerJob: UInt64.from(123456789n),
      withdrawTimelockSlots: UInt32.from(4321),
    })
    expect(decodeTerms(t.pack().toBigInt())).toEqual({
      pricePerJob: 123456789n,
      withdrawTimelockSlots: 4321n,
    })
    expect(encodeTerms({ pricePerJob: 123456789n, withdrawTimelockSlots: 4321n })).toBe(
      t.pack().toBigInt(),
    )
    const h = new Heartbeat({
      lastHeartbeatSlot: UInt32.from(99),
      settledJobs: UInt64.from(2n ** 40n),
    })
    expect(decodeHeartbeat(h.pack().toBigInt())).toEqual({
      lastHeartbeatSlot: 99n,
      settledJobs: 2n ** 40n,
    })
  })
  it('decodes a full state and the source commitment', () => {
    const sha = 'c0ffee0000000000000000000000000000000001'
    const state = [
      BigInt(`0x${sha}`),
      1n,
      2n,
      encodeTerms({ pricePerJob: 5n, withdrawTimelockSlots: 6n }),
      7n,
      8n,
      9n,
      10n,
    ].map(String)
    const d = decodeServiceState(state)
    expect(sourceCommitmentToSha1(d.sourceCommitment)).toBe(sha)
    expect(d.terms.pricePerJob).toBe(5n)
    expect(d.heartbeat.lastHeartbeatSlot).toBe(10n)
    expect(() => decodeServiceState(state.slice(1))).toThrow()
    expect(Field(d.ledger).toBigInt()).toBe(9n)
  })
})

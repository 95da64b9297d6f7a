import fc from 'fast-check'
import { Field } from 'o1js'
import { describe, expect, it } from 'vitest'
import { applyOp, type LedgerOp, ledgerViolation, newLedger } from './ledger-model.ts'
import { SLOT_WINDOW } from './service-contract.ts'

const USERS = 3
/** Any leaves CID: the ledger model does not look at it, the runner signs it. */
const _LEAVES_CID: [Field, Field] = [Field(0x55n << 128n), Field(1)]
const TERMS = [
  { price: 10n, timelock: 30n },
  { price: 7n, timelock: 20n },
]

const opArb = (users: number, services: number): fc.Arbitrary<LedgerOp> => {
  const svc = fc.integer({ min: 0, max: services - 1 })
  const user = fc.integer({ min: 0, max: users - 1 })
  return fc.oneof(
    fc.record({
      kind: fc.constant('deposit' as const),
      service: svc,
      user,
      amount: fc.bigInt(0n, 200n),
    }),
    fc.record({
      kind: fc.constant('settle' as const),
      service: svc,
      user,
      payable: fc.bigInt(0n, 4n),
      notPayable: fc.constantFrom(0n, 0n, 1n, 2n),
      forged: fc.constantFrom(0n, 0n, 0n, 0n, 1n, 3n),
      delta: fc.bigInt(-20n, 40n),
      nonce: fc.constantFrom('next' as const, 'next' as const, 'replay' as const, 'skip' as const),
      forgery: fc.constantFrom(
        'none' as const,
        'none' as const,
        'user' as const,
        'runner' as const,
        'stranger' as const,
      ),
    }),
    fc.record({ kind: fc.constant('requestWithdraw' as const), service: svc, user }),
    fc.record({ kind: fc.constant('withdraw' as const), service: svc, user }),
    fc.record({ kind: fc.constant('advance' as const), slots: fc.bigInt(0n, 40n) }),
  )
}

describe('ledger model', () => {
  it('conserves tokens, never pays more than signed nor for a not-payable job or a forged count, over 2,000 random operations', () => {
    let ops = 0
    fc.assert(
      fc.property(
        fc.array(opArb(USERS, TERMS.length), { minLength: 100, maxLength: 100 }),
        (seq) => {
          const l = newLedger(USERS, 1_000n, TERMS, BigInt(SLOT_WINDOW))
          for (const op of seq) {
            applyOp(l, op)
            ops++
            const v = ledgerViolation(l)
            if (v) throw new Error(v)
          }
        },
      ),
      { numRuns: 20, seed: 42 },
    )
    expect(ops).toBeGreaterThanOrEqual(2_000)
  })
})

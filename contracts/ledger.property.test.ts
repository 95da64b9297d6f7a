import fc from 'fast-check'
import { Field, type PrivateKey, UInt32 } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '../protocol/index.ts'
import * as client from './client.ts'
import {
  applyOp,
  type Ledger,
  type LedgerOp,
  ledgerViolation,
  newLedger,
  settleVoucher,
} from './ledger-model.ts'
import { SLOT_WINDOW } from './service-contract.ts'
import { startTestChain, type TestChain, type TestService } from './test-chain.ts'

const USERS = 3
/** Any leaves CID: the ledger model does not look at it, the runner signs it. */
const LEAVES_CID: [Field, Field] = [Field(0x55n << 128n), Field(1)]
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

describe('contract agrees with the model', () => {
  let chain: TestChain
  let services: TestService[]
  let ledger: Ledger

  beforeAll(async () => {
    chain = await startTestChain({ users: USERS, credits: 1_000n })
    services = []
    for (const t of TERMS) {
      services.push(await chain.deployService({ price: t.price, timelock: Number(t.timelock) }))
    }
    const slot = chain.local.getNetworkState().globalSlotSinceGenesis.toBigint()
    ledger = newLedger(USERS, 1_000n, TERMS, BigInt(SLOT_WINDOW), slot)
    // Everyone holds receipts with every service, so every channel has its accounts.
    for (const [si, s] of services.entries()) {
      for (const [ui, u] of chain.users.entries()) {
        await client.deposit(chain.payer, s.address, u, u.toPublicKey(), 20n)
        applyOp(ledger, { kind: 'deposit', service: si, user: ui, amount: 20n })
      }
    }
  })

  /** Manifest digests of each service's and user's settled results, in leaf order. */
  const leaves = new Map<string, Uint8Array[]>()
  let digestSeed = 0
  const freshDigest = () => sha256(new TextEncoder().encode(`manifest ${digestSeed++}`))

  async function onChain(op: LedgerOp, v?: { cumulativeAmount: bigint; nonce: bigint }) {
    if (op.kind === 'advance') {
      chain.local.setGlobalSlot(UInt32.from(ledger.slot + op.slots))
      return
    }
    const s = services[op.service]!
    const user = chain.users[op.user]!
    const other: PrivateKey = chain.users[(op.user + 1) % USERS]!
    if (op.kind === 'deposit') {
      await client.deposit(chain.payer, s.address, user, user.toPublicKey(), op.amount)
    } else if (op.kind === 'settle') {
      const voucher = chain.voucher(
        op.forgery === 'user' ? other : user,
        s,
        v!.cumulativeAmount,
        v!.nonce,
      )
      const runnerKey = op.forgery === 'none' || op.forgery === 'user' ? s.runnerKey : other
      const owner = { service: s.address.toBase58(), user: user.toPublicKey().toBase58() }
      const key = `${op.service}/${op.user}`
      const before = leaves.get(key) ?? []
      const after = [...before, ...Array.from({ length: Number(op.payable) }, freshDigest)]
      // An empty tree has no count proof: borrow one, the contract refuses it (no new result).
      const proved = client.settledResults(owner, after.length > 0 ? after : [freshDigest()])
      const results = { ...proved, count: BigInt(after.length) + op.forged }
      await client.settle(chain.payer, {
        service: s.address,
        book: s.book,
        user: user.toPublicKey(),
        voucher,
        results,
        leavesCid: LEAVES_CID,
        runner: (op.forgery === 'stranger' ? other : s.runnerKey).toPublicKey(),
        runnerSignature: chain.runnerSign(
          s,
          user.toPublicKey(),
          results,
          LEAVES_CID,
          voucher,
          runnerKey,
        ),
      })
      leaves.set(key, after)
    } else if (op.kind === 'requestWithdraw') {
      const closeNonce = ledger.services[op.service]!.maxNonce[op.user]!
      await client.requestWithdraw(chain.payer, s.address, s.book, user, closeNonce)
    } else {
      await client.withdraw(chain.payer, s.address, s.book, user)
    }
  }

  it('on 60 random operations: same outcomes, same balances', async () => {
    const ops = fc.sample(opArb(USERS, TERMS.length), { numRuns: 60, seed: 7 })
    let failures = 0
    for (const op of ops) {
      const v = op.kind === 'settle' ? settleVoucher(ledger, op) : undefined
      let chainError = ''
      try {
        await onChain(op, v)
      } catch (e) {
        chainError = String(e)
      }
      const model = applyOp(ledger, op)
      if (model.ok)
        expect(
          chainError,
          JSON.stringify(op, (_, x) => (typeof x === 'bigint' ? `${x}` : x)),
        ).toBe('')
      else {
        failures++
        expect(chainError).toContain(model.error === 'insufficient credits' ? '' : model.error)
      }
      expect(ledgerViolation(ledger)).toBeNull()
    }
    for (const [si, s] of services.entries()) {
      const m = ledger.services[si]!
      expect(await client.readEscrow(s.address)).toBe(m.escrow)
      expect(await client.readCredits(s.runnerKey.toPublicKey())).toBe(m.runnerCredits)
      for (const [ui, u] of chain.users.entries()) {
        expect(await client.readDeposit(s.address, u.toPublicKey())).toBe(m.receipts[ui])
      }
      expect((await client.readServiceState(s.address)).channelsRoot).toBe(s.book.root.toBigInt())
    }
    for (const [ui, u] of chain.users.entries()) {
      expect(await client.readCredits(u.toPublicKey())).toBe(ledger.credits[ui])
    }
    expect(failures).toBeGreaterThan(5)
  })
})

import { describe, expect, it } from 'vitest'
import { SkipReason } from '../protocol/index.ts'
import { ServiceErrors } from './errors.ts'
import { OpSequence, REPLAY_SEED, replayConfig } from './ledger-ops.ts'
import { LedgerSim, type SimConfig } from './ledger-sim.ts'

// The ledger's one set of rules (protocol/ledger-book.ts, what processBatch runs) under seeded
// random operations, checked after every step by LedgerSim: supply conserved and every credit in
// the vault owned once, nobody refunded more than deposited − paid, the runner paid exactly price
// × the payable results accepted, stale and forged claims changing nothing, withdrawals only
// after their timelock, mass withdrawals settled in full. ledger-replay.test.ts replays the
// prefix of the first sequence on the real contracts.

const names = (n: number) => Array.from({ length: n }, (_, i) => `user-${i}`)
/** Off chain a root only needs to differ per user and count. */
const fakeRoot = (user: number, count: bigint) => (BigInt(user + 1) << 32n) + count

const OPS = 1_500

function run(config: SimConfig, seed: number, ops: number): LedgerSim {
  const sim = new LedgerSim(config)
  const seq = new OpSequence(seed)
  for (let i = 0; i < ops; i++) {
    const op = seq.next(sim)
    try {
      sim.step(op)
    } catch (err) {
      throw new Error(`seed ${seed}, operation ${i} ${JSON.stringify(op, big)}: ${err}`)
    }
  }
  return sim
}

const big = (_: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)

describe('ledger property', () => {
  const cases = [
    { what: 'the replayed configuration (4 users, a stranger)', seed: REPLAY_SEED, users: 5 },
    // Mass withdrawals of 22 take most of its operations: a longer run.
    {
      what: '24 users (mass withdrawals of 22)',
      seed: 2,
      users: 24,
      price: 7n,
      timelock: 25n,
      ops: 2 * OPS,
    },
    { what: '8 users', seed: 3, users: 8, price: 3n, timelock: 100n },
  ]
  for (const c of cases) {
    const ops = c.ops ?? OPS
    it(`${ops} seeded operations on ${c.what}: conservation, refunds, exact pay, stale and forged claims change nothing`, () => {
      const config = replayConfig(names(c.users), fakeRoot)
      if (c.price) config.terms = { pricePerJob: c.price, withdrawTimelockSlots: c.timelock }
      if (c.users > 5) config.strangers = 2
      const sim = run(config, c.seed, ops)
      const s = sim.stats
      // Every path was taken, not only the safe ones.
      for (const reason of Object.values(SkipReason)) {
        const of = reason <= SkipReason.voucherAboveDeposit ? 'claim' : 'withdraw'
        expect(s[`reason ${reason} of ${of}`], `skip reason ${reason}`).toBeGreaterThan(0)
      }
      expect(s['reason 0 of claim']).toBeGreaterThan(20)
      expect(s['reason 0 of withdraw']).toBeGreaterThan(3)
      expect(s['withdraw before the timelock']).toBeGreaterThan(0)
      expect(s['voucher covered a not-payable job']).toBeGreaterThan(0)
      expect(s.expectClosed).toBeGreaterThanOrEqual(Math.floor(ops / 250))
      for (const refusal of [
        ServiceErrors.resultsNotProved,
        ServiceErrors.badRunnerSignature,
        ServiceErrors.badVoucherSignature,
        ServiceErrors.nothingToRefund,
        ServiceErrors.redeemAbovePaid,
      ]) {
        expect(s[`refused ${refusal}`], refusal).toBeGreaterThan(0)
      }
      expect(s.refund).toBeGreaterThan(0)
      expect(s.redeem).toBeGreaterThan(0)
      expect(sim.users.some((u) => u.notPayable > 0n)).toBe(true)
      expect(sim.runnerPaid).toBeGreaterThan(0n)
    })
  }
})

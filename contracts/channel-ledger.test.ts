import { Mina, type PrivateKey, UInt64 } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { LEDGER_BATCH_SIZE, SkipReason, skipReasonAt } from './channel-ledger.ts'
import { LedgerHandle, send } from './channel-ledger-client.ts'
import { seededKey, testDigests } from './test-chain.ts'

// The collision-free settlement prototype (channel-ledger.ts) on a LocalBlockchain, proofs off:
// a stranger's transactions landing before each of the parties' change nothing for them, one
// batch applies many users' settlements, and a mass withdrawal is settled before any timelock.

const PRICE = 10n
const TIMELOCK = 40
let local: Awaited<ReturnType<typeof Mina.LocalBlockchain>>
let payer: PrivateKey
let seed = 7000

/** A fresh key with MINA (it signs its own account updates). */
function newUser(): PrivateKey {
  const k = seededKey(seed++)
  local.addAccount(k.toPublicKey(), '10000000000')
  return k
}

async function newLedger(): Promise<LedgerHandle> {
  return LedgerHandle.deploy(payer, seededKey(seed++), seededKey(seed++), PRICE, TIMELOCK)
}

/** Ends the block: later transactions land in the next slot. */
function nextBlock() {
  local.incrementGlobalSlot(1)
}

beforeAll(async () => {
  local = await Mina.LocalBlockchain({ proofsEnabled: false })
  Mina.setActiveInstance(local)
  payer = local.testAccounts[0]!.key
})

describe('ChannelLedger (prototype): no griefing', () => {
  it("a stranger's request, withdrawal and batch landing first change nothing for the parties", async () => {
    const l = await newLedger()
    const user = newUser()
    const stranger = newUser()
    await l.deposit(payer, user, user.toPublicKey(), 100n)
    nextBlock()

    // Before each of the parties' transactions, the stranger lands everything it can, including
    // a withdrawal request with no deposit at all (the old design's griefing case).
    const grief = async () => {
      await l.requestWithdraw(payer, stranger, 0n)
      await l.withdraw(payer, stranger)
      await l.deposit(payer, stranger, user.toPublicKey(), 1n)
    }
    await grief()
    await l.claim(payer, user.toPublicKey(), testDigests(2), l.voucher(user, 20n, 1n))
    await grief()
    // The stranger may process the batch too (anyone may): it applies the runner's claim.
    await l.processAll(payer)
    expect(l.channel(user.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(20n)
    await grief()
    await l.claim(payer, user.toPublicKey(), testDigests(3), l.voucher(user, 30n, 2n))
    await grief()
    await l.requestWithdraw(payer, user, 2n)
    await grief()
    await l.processAll(payer)
    const mid = l.channel(user.toPublicKey())
    expect(mid.channel.paidSoFar.toBigInt()).toBe(30n)
    expect(mid.channel.resultsCount.toBigint()).toBe(3n)
    expect(mid.channel.withdrawRequestedAtSlot.toBigint()).toBeGreaterThan(0n)
    expect(l.holds(user.toPublicKey(), mid)).toBe(true)

    local.incrementGlobalSlot(TIMELOCK + 20)
    await grief()
    await l.withdraw(payer, user)
    await grief()
    await l.processAll(payer)
    const after = l.channel(user.toPublicKey())
    // Six 1-credit griefing deposits were applied before the withdrawal (refunded with it); the
    // seventh lands after it and stays for the next withdrawal.
    expect(after.deposited.toBigInt()).toBe(31n)
    expect(after.channel.voucherNonce.toBigInt()).toBe(2n)
    expect(after.channel.withdrawRequestedAtSlot.toBigint()).toBe(0n)
    expect(BigInt(l.contract.refunded.get().toString())).toBe(100n + 6n - 30n)
    expect(BigInt(l.contract.runnerPaid.get().toString())).toBe(30n)
  }, 1_800_000)

  it('a batch prepared before a stranger dispatches in the next block still lands', async () => {
    const l = await newLedger()
    const user = newUser()
    const stranger = newUser()
    await l.deposit(payer, user, user.toPublicKey(), 50n)
    await l.claim(payer, user.toPublicKey(), testDigests(1), l.voucher(user, 10n, 1n))
    nextBlock()
    const [batch] = await l.prepare()
    await l.requestWithdraw(payer, stranger, 0n)
    await l.deposit(payer, stranger, stranger.toPublicKey(), 1n)
    await l.sendBatch(payer, batch!)
    expect(l.channel(user.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(10n)
    // The stranger's actions are pending for the next batch.
    await l.processAll(payer)
    expect(l.channel(stranger.toPublicKey()).deposited.toBigInt()).toBe(1n)
  })

  it('an old voucher does not settle after a withdrawal, not even against a new deposit', async () => {
    const l = await newLedger()
    const user = newUser()
    const sponsor = newUser()
    await l.deposit(payer, user, user.toPublicKey(), 100n)
    const old = l.voucher(user, 20n, 2n)
    await l.claim(payer, user.toPublicKey(), testDigests(1), l.voucher(user, 10n, 1n))
    await l.requestWithdraw(payer, user, 2n)
    await l.processAll(payer)
    local.incrementGlobalSlot(TIMELOCK + 20)
    await l.withdraw(payer, user)
    await l.processAll(payer)
    await l.deposit(payer, sponsor, user.toPublicKey(), 100n)
    const { tx } = await l.claim(payer, user.toPublicKey(), testDigests(2), old)
    expect(tx).toBeDefined()
    await l.processAll(payer)
    const ch = l.channel(user.toPublicKey())
    expect(ch.channel.paidSoFar.toBigInt()).toBe(10n)
    expect(ch.channel.resultsCount.toBigint()).toBe(1n)
    const events = await l.contract.fetchEvents()
    // The batch that held the old voucher's claim skipped it as stale.
    const reasons = events.map((e) =>
      (e.event.data as unknown as { reasons: { toBigInt(): bigint } }).reasons.toBigInt(),
    )
    const skipped = reasons.flatMap((r) =>
      Array.from({ length: LEDGER_BATCH_SIZE }, (_, i) => skipReasonAt(r, i)),
    )
    expect(skipped).toContain(SkipReason.staleVoucher)
  })

  it('a withdrawal before its timelock is skipped and refunds nothing', async () => {
    const l = await newLedger()
    const user = newUser()
    await l.deposit(payer, user, user.toPublicKey(), 100n)
    await l.requestWithdraw(payer, user, 0n)
    await l.withdraw(payer, user)
    await l.processAll(payer)
    expect(l.channel(user.toPublicKey()).deposited.toBigInt()).toBe(100n)
    expect(BigInt(l.contract.refunded.get().toString())).toBe(0n)
  })
})

describe('ChannelLedger (prototype): many users per settlement', () => {
  it('one batch transaction settles LEDGER_BATCH_SIZE users', async () => {
    const l = await newLedger()
    const users = Array.from({ length: LEDGER_BATCH_SIZE }, newUser)
    for (const u of users) await l.deposit(payer, u, u.toPublicKey(), 100n)
    await l.processAll(payer)
    for (const u of users) {
      await l.claim(payer, u.toPublicKey(), testDigests(3), l.voucher(u, 30n, 1n))
    }
    nextBlock()
    const batches = await l.prepare()
    expect(batches).toHaveLength(1)
    await l.sendBatch(payer, batches[0]!)
    for (const u of users) {
      expect(l.channel(u.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(30n)
    }
    expect(BigInt(l.contract.runnerPaid.get().toString())).toBe(BigInt(LEDGER_BATCH_SIZE) * 30n)
  })

  it('mass withdrawal: 200 users request in one slot, all settled before any timelock ends, refunds exact', async () => {
    const l = await newLedger()
    const n = 200
    const users = Array.from({ length: n }, newUser)
    const jobs = (i: number) => 1 + (i % 4)
    // Two users' operations a transaction (each its own account update and action), to keep
    // the run short; the contract sees the same actions as from one transaction each.
    const groups = Array.from({ length: n / 2 }, (_, g) => users.slice(2 * g, 2 * g + 2))
    for (const g of groups) {
      await send(payer, g, async () => {
        for (const u of g)
          await l.contract.deposit(u.toPublicKey(), u.toPublicKey(), UInt64.from(100))
      })
    }
    await l.processAll(payer)
    nextBlock()
    // Every user asks to withdraw in the same slot, right after their last jobs.
    for (const g of groups) {
      await send(payer, g, async () => {
        for (const u of g) await l.contract.requestWithdraw(u.toPublicKey(), UInt64.from(1))
      })
    }
    const requestSlot = Mina.getNetworkState().globalSlotSinceGenesis.toBigint()
    nextBlock()
    // The runner claims every channel; 400 actions take ceil(400 / LEDGER_BATCH_SIZE) batches.
    for (const [g, group] of groups.entries()) {
      await send(payer, [], async () => {
        for (const [j, u] of group.entries()) {
          const i = 2 * g + j
          const paid = PRICE * BigInt(jobs(i))
          await l.claimCall(u.toPublicKey(), testDigests(jobs(i)), l.voucher(u, paid, 1n))()
        }
      })
    }
    const txs = await l.processAll(payer)
    expect(txs).toBe(Math.ceil((2 * n) / LEDGER_BATCH_SIZE))
    const settledSlot = Mina.getNetworkState().globalSlotSinceGenesis.toBigint()
    expect(settledSlot).toBeLessThan(requestSlot + BigInt(TIMELOCK))
    for (const [i, u] of users.entries()) {
      expect(l.channel(u.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(PRICE * BigInt(jobs(i)))
    }
    local.incrementGlobalSlot(TIMELOCK + 20)
    for (const g of groups) {
      await send(payer, g, async () => {
        for (const u of g) await l.contract.withdraw(u.toPublicKey())
      })
    }
    await l.processAll(payer)
    const paidTotal = users.reduce((s, _, i) => s + PRICE * BigInt(jobs(i)), 0n)
    expect(BigInt(l.contract.runnerPaid.get().toString())).toBe(paidTotal)
    expect(BigInt(l.contract.refunded.get().toString())).toBe(100n * BigInt(n) - paidTotal)
    for (const [i, u] of users.entries()) {
      expect(l.channel(u.toPublicKey()).deposited.toBigInt()).toBe(PRICE * BigInt(jobs(i)))
    }
  }, 3_000_000)
})

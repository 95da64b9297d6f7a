import { AccountUpdate, Mina, PrivateKey, UInt32, UInt64 } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { WITHDRAW_TIMELOCK_BOUNDS } from '../protocol/index.ts'
import * as client from './client.ts'
import { CreditToken, creditTokenAddress, creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { ServiceVault } from './service-vault.ts'
import { startTestChain, type TestChain, type TestService, testDigests } from './test-chain.ts'

// The attacks on settlement and withdrawal, each on the real contracts (LocalBlockchain, proofs
// off): the runner is paid exactly price × the payable results it proves, a settlement cannot be
// forged, replayed or moved to another user, and nobody can stop a withdrawal or reopen a
// withdrawn channel.

const PRICE = 10n
const TIMELOCK = Number(WITHDRAW_TIMELOCK_BOUNDS.min)

let chain: TestChain
let svc: TestService
let alice: PrivateKey
let bob: PrivateKey
let sponsor: PrivateKey

const slot = () => Number(chain.local.getNetworkState().globalSlotSinceGenesis.toBigint())
const runnerCredits = () => client.readCredits(svc.runnerKey.toPublicKey())

/** Runner credits, escrow and the channels root: what a refused transaction must leave as is. */
async function balances() {
  return {
    runner: await runnerCredits(),
    escrow: await client.readEscrow(svc.address),
    channels: (await client.readServiceState(svc.address)).channelsRoot,
  }
}

/** Requests and completes a withdrawal, closing the channel up to `closeNonce`. */
async function withdrawAll(s: TestService, user: PrivateKey, closeNonce: bigint) {
  await client.requestWithdraw(chain.payer, s.address, s.book, user, closeNonce)
  chain.local.setGlobalSlot(UInt32.from(slot() + 10 + s.timelock))
  await client.withdraw(chain.payer, s.address, s.book, user)
}

beforeAll(async () => {
  chain = await startTestChain({ users: 4 })
  ;[alice, bob, sponsor] = chain.users as [PrivateKey, PrivateKey, PrivateKey]
})

describe('the runner is paid exactly price × payable results', () => {
  beforeAll(async () => {
    svc = await chain.deployService({ price: PRICE, timelock: TIMELOCK })
    await client.deposit(chain.payer, svc.address, alice, alice.toPublicKey(), 1_000n)
  })

  it('a failed trigger, then more jobs: the runner settles every later payable job', async () => {
    // Job 1's trigger failed: the Worker released it, so jobs 2 and 3 were signed at 10 and 20.
    // The runner never saw job 1's voucher and settles jobs 2 and 3 with job 3's.
    const v3 = chain.voucher(alice, svc, 20n, 3n)
    await chain.settleResults(svc, alice.toPublicKey(), testDigests(2), v3)
    expect(await runnerCredits()).toBe(20n)
    // Job 4 settles on its own: nothing stays blocked behind the failed trigger.
    await chain.settleResults(
      svc,
      alice.toPublicKey(),
      testDigests(3),
      chain.voucher(alice, svc, 30n, 4n),
    )
    expect(await runnerCredits()).toBe(30n)
  })

  it('does not charge a job its agent lost, and charges a job that ran and failed', async () => {
    // The user signed 50 (jobs 5 lost, 6 failed) before the Worker released job 5: the voucher
    // is only a ceiling, the runner's tree holds job 6's result alone, and that is what it gets.
    const before = await runnerCredits()
    await chain.settleResults(
      svc,
      alice.toPublicKey(),
      testDigests(4),
      chain.voucher(alice, svc, 50n, 6n),
    )
    expect((await runnerCredits()) - before).toBe(PRICE)
    expect(svc.book.get(alice.toPublicKey()).paidSoFar.toBigInt()).toBe(40n)
    expect((await client.readServiceState(svc.address)).heartbeat.settledJobs).toBe(4n)
  })
})

describe('refused with its error, no credits moved', () => {
  beforeAll(async () => {
    svc = await chain.deployService({ price: PRICE, timelock: TIMELOCK })
    await client.deposit(chain.payer, svc.address, alice, alice.toPublicKey(), 500n)
    await client.deposit(chain.payer, svc.address, bob, bob.toPublicKey(), 500n)
    await chain.settleResults(
      svc,
      alice.toPublicKey(),
      testDigests(2),
      chain.voucher(alice, svc, 20n, 1n),
    )
  })

  const refused = async (attempt: () => Promise<unknown>, error: string) => {
    const before = await balances()
    await expect(attempt()).rejects.toThrow(error)
    expect(await balances()).toEqual(before)
  }
  const alices = (n: number) => testDigests(n)

  it('a settlement claiming more payable results than its tree proves', async () => {
    const v = chain.voucher(alice, svc, 100n, 2n)
    await refused(
      () => chain.settleResults(svc, alice.toPublicKey(), alices(3), v, { count: 4n }),
      ServiceErrors.resultsNotProved,
    )
    // …or fewer: the leaf after the claimed last one is not empty.
    await refused(
      () => chain.settleResults(svc, alice.toPublicKey(), alices(5), v, { count: 3n }),
      ServiceErrors.resultsNotProved,
    )
  })

  it('a settlement signed by another key', async () => {
    const v = chain.voucher(alice, svc, 30n, 2n)
    await refused(
      () => chain.settleResults(svc, alice.toPublicKey(), alices(3), v, { runnerKey: bob }),
      ServiceErrors.badRunnerSignature,
    )
  })

  it('leaves built for another user or another service', async () => {
    const v = chain.voucher(alice, svc, 30n, 2n)
    const other = await chain.deployService({ price: PRICE, timelock: TIMELOCK })
    const asBobs = { service: svc.address.toBase58(), user: bob.toPublicKey().toBase58() }
    await refused(
      () => chain.settleResults(svc, alice.toPublicKey(), alices(3), v, { owner: asBobs }),
      ServiceErrors.resultsNotProved,
    )
    const asOthers = { service: other.address.toBase58(), user: alice.toPublicKey().toBase58() }
    await refused(
      () => chain.settleResults(svc, alice.toPublicKey(), alices(3), v, { owner: asOthers }),
      ServiceErrors.resultsNotProved,
    )
  })

  it('a replayed settlement, and the same results under a new voucher', async () => {
    await refused(
      () =>
        chain.settleResults(
          svc,
          alice.toPublicKey(),
          alices(2),
          chain.voucher(alice, svc, 20n, 1n),
        ),
      ServiceErrors.staleVoucher,
    )
    await refused(
      () =>
        chain.settleResults(
          svc,
          alice.toPublicKey(),
          alices(2),
          chain.voucher(alice, svc, 90n, 2n),
        ),
      ServiceErrors.noNewResults,
    )
  })

  it('a stale or out-of-order voucher, and one below the results', async () => {
    await chain.settleResults(
      svc,
      alice.toPublicKey(),
      alices(3),
      chain.voucher(alice, svc, 30n, 5n),
    )
    await refused(
      () =>
        chain.settleResults(
          svc,
          alice.toPublicKey(),
          alices(4),
          chain.voucher(alice, svc, 40n, 4n),
        ),
      ServiceErrors.staleVoucher,
    )
    await refused(
      () =>
        chain.settleResults(
          svc,
          alice.toPublicKey(),
          alices(5),
          chain.voucher(alice, svc, 40n, 6n),
        ),
      ServiceErrors.voucherBelowResults,
    )
  })
})

describe('griefing', () => {
  beforeAll(async () => {
    svc = await chain.deployService({ price: PRICE, timelock: TIMELOCK })
  })

  it("a 1-credit deposit for the user landing first does not cancel the user's proved withdraw", async () => {
    await client.deposit(chain.payer, svc.address, bob, bob.toPublicKey(), 100n)
    await client.requestWithdraw(chain.payer, svc.address, svc.book, bob, 0n)
    chain.local.setGlobalSlot(UInt32.from(slot() + 10 + TIMELOCK))
    // Proved against a receipt balance of 100…
    const vault = new ServiceVault(svc.address, creditTokenId())
    const token = new CreditToken(creditTokenAddress())
    const before = svc.book.get(bob.toPublicKey())
    const tx = await Mina.transaction(
      { sender: chain.payer.key.toPublicKey(), fee: 1e8 },
      async () => {
        await vault.withdraw(svc.book.snapshot(), bob.toPublicKey(), before)
        await token.approveAccountUpdate(vault.self)
      },
    )
    await tx.prove()
    tx.sign([chain.payer.key, bob])
    // …then a stranger's deposit of 1 lands first (paying its own fee: the withdrawal's fee
    // payer nonce is already taken).
    await client.deposit({ key: sponsor }, svc.address, sponsor, bob.toPublicKey(), 1n)
    const credits = await client.readCredits(bob.toPublicKey())
    const sent = await tx.send()
    expect(sent.status).toBe('pending')
    // Sent by hand, so the off-chain book learns the withdrawal as client.withdraw would tell it.
    svc.book.apply(bob.toPublicKey(), client.withdrawnChannel(before))
    expect(await client.readCredits(bob.toPublicKey())).toBe(credits + 100n)
    // The stranger's credit stays Bob's, refundable by his next withdrawal.
    expect(await client.readDeposit(svc.address, bob.toPublicKey())).toBe(1n)
    expect(await client.readEscrow(svc.address)).toBe(1n)
  })

  it('an old voucher cannot be settled after a withdrawal, not even against a new sponsor deposit', async () => {
    const user = alice
    await client.deposit(chain.payer, svc.address, user, user.toPublicKey(), 100n)
    // Signed for jobs the runner never settled before the withdrawal.
    const old = chain.voucher(user, svc, 50n, 3n)
    await withdrawAll(svc, user, 3n)
    await client.deposit(chain.payer, svc.address, sponsor, user.toPublicKey(), 100n)
    const runner = await runnerCredits()
    await expect(chain.settleResults(svc, user.toPublicKey(), testDigests(5), old)).rejects.toThrow(
      ServiceErrors.staleVoucher,
    )
    expect(await runnerCredits()).toBe(runner)
    // A voucher signed after the withdrawal pays for new results as usual.
    await chain.settleResults(
      svc,
      user.toPublicKey(),
      testDigests(1),
      chain.voucher(user, svc, 10n, 4n),
    )
    expect(await runnerCredits()).toBe(runner + PRICE)
  })
})

describe('deploy bounds and sponsored users', () => {
  it('refuses a withdrawal timelock of 0, below the minimum, above the maximum or near 2^32', async () => {
    const { min, max } = WITHDRAW_TIMELOCK_BOUNDS
    for (const timelock of [0n, min - 1n, max + 1n, 2n ** 32n - 1n]) {
      await expect(
        chain.deployService({ price: PRICE, timelock: Number(timelock) }),
      ).rejects.toThrow(ServiceErrors.timelockOutOfBounds)
    }
    const atMax = await chain.deployService({ price: PRICE, timelock: Number(max) })
    expect((await client.readServiceState(atMax.address)).terms.withdrawTimelockSlots).toBe(max)
  })

  it('a user whose deposit a sponsor paid, and who never held credits, withdraws', async () => {
    svc = await chain.deployService({ price: PRICE, timelock: TIMELOCK })
    const carol = PrivateKey.random()
    // Carol holds MINA for her own signature, no credit account.
    const fund = await Mina.transaction(
      { sender: chain.payer.key.toPublicKey(), fee: 1e8 },
      async () => {
        const au = AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
        au.send({ to: carol.toPublicKey(), amount: UInt64.from(2e9) })
      },
    )
    await fund.sign([chain.payer.key]).send()
    expect(await client.accountExists(carol.toPublicKey(), creditTokenId())).toBe(false)
    await client.deposit(chain.payer, svc.address, sponsor, carol.toPublicKey(), 70n)
    await withdrawAll(svc, carol, 0n)
    expect(await client.readCredits(carol.toPublicKey())).toBe(70n)
    expect(await client.readEscrow(svc.address)).toBe(0n)
  })
})

import { Cache, Mina, type PrivateKey, PublicKey, setBackend, UInt64 } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { decodeTerms, MAX_PRICE_PER_JOB, WITHDRAW_TIMELOCK_BOUNDS } from '../protocol/index.ts'
import { ChannelMap } from './channel.ts'
import {
  ChannelLedger,
  compileLedger,
  LEDGER_BATCH_SIZE,
  SkipReason,
  skipReasonAt,
} from './channel-ledger.ts'
import { balanceOf, LedgerHandle, send } from './channel-ledger-client.ts'
import { heartbeatBody, mintCredits, readServiceState } from './client.ts'
import { DEFAULT_CACHE_DIR } from './compile.ts'
import { creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { bookMap, readLedgerBooks, toLedgerChannel } from './ledger-book.ts'
import {
  seededKey,
  startTestChain,
  type TestChain,
  type TestService,
  testDigests,
} from './test-chain.ts'

// The collision-free settlement ledger (channel-ledger.ts) on a LocalBlockchain with the credit
// token: proofs off for the big runs (a stranger's transactions landing before each of the
// parties', one block holding every kind of operation, 200 users withdrawing together), and one
// batch proved and verified. Every test checks the credits that moved, exactly, and that supply
// is conserved: credits held + vault = credits minted, vault = escrow + receipts not redeemed.

// The proved batch runs on the native backend, as the runner proves: WebAssembly is the page's.
setBackend('native')

const PRICE = 10n
const TIMELOCK = 40
let chain: TestChain
let payer: PrivateKey
let sponsor: PrivateKey
let minted = 0n
let seed = 7000

/** A fresh key with MINA and no credits (it signs its own account updates, pays its fees). */
function newUser(): PrivateKey {
  const k = seededKey(seed++)
  chain.local.addAccount(k.toPublicKey(), '10000000000')
  everyUser.push(k.toPublicKey())
  return k
}

/** Every key a test made: a refund pulled or a redeem in one test leaves credits there. */
const everyUser: PublicKey[] = []

/** A fresh key holding `amount` credits. */
async function fundedUser(amount: bigint): Promise<PrivateKey> {
  const k = newUser()
  await mintCredits(chain.payer, chain.adminKey, k.toPublicKey(), amount)
  minted += amount
  return k
}

async function newLedger(): Promise<LedgerHandle> {
  return LedgerHandle.deploy(payer, seededKey(seed++), seededKey(seed++), PRICE, TIMELOCK)
}

function credits(owner: PublicKey): bigint {
  return balanceOf(owner, creditTokenId())
}

/** Ends the block: later transactions land in the next slot. */
function nextBlock() {
  chain.local.incrementGlobalSlot(1)
}

/**
 * Supply is conserved: the credits `holders` and the vault hold are all the credits minted, and
 * the vault holds exactly the escrow (deposited − paid of every channel), the refunds granted and
 * not pulled yet (refunded − the user's receipt balance, which counts what they pulled), and the
 * runner's unredeemed receipts. Call it with every pending action processed.
 */
function expectConserved(l: LedgerHandle, holders: PublicKey[], channelUsers: PublicKey[]) {
  const runner = l.runnerKey.toPublicKey()
  const everyone = [...new Set([...holders, runner].map((k) => k.toBase58()))]
  const held = everyone.reduce((s, k) => s + credits(pk(k)), 0n)
  // Everything else any test left credits in, each account once.
  const counted = new Set([...everyone, l.address.toBase58()])
  const rest = new Set(
    [...chainHolders(), ...everyUser].map((k) => k.toBase58()).filter((k) => !counted.has(k)),
  )
  const others = [...rest].reduce((s, k) => s + credits(pk(k)), 0n)
  expect(held + l.vaultBalance() + others).toBe(minted)
  const owed = channelUsers.reduce((s, u) => {
    const ch = l.channel(u)
    const escrow = ch.deposited.toBigInt() - ch.channel.paidSoFar.toBigInt()
    return s + escrow + ch.refunded.toBigInt() - l.receipts(u)
  }, 0n)
  expect(l.vaultBalance()).toBe(owed + l.receipts(runner))
}

function pk(base58: string): PublicKey {
  return PublicKey.fromBase58(base58)
}

/** Credits held by test-chain accounts outside any one test (the other ledgers' vaults too). */
let otherHolders: PublicKey[] = []
function chainHolders(): PublicKey[] {
  return otherHolders
}

/** What a transaction landing on `l` would change: its action state, its vault, the runner's pay. */
function landedSoFar(l: LedgerHandle) {
  return {
    actionState: Mina.getAccount(l.address).zkapp?.actionState[0]?.toBigInt(),
    vault: l.vaultBalance(),
    runnerReceipts: l.receipts(l.runnerKey.toPublicKey()),
  }
}

/** Skip reasons of every Batch event of `l` (0: applied). */
async function skipReasons(l: LedgerHandle): Promise<number[]> {
  const events = (await l.contract.fetchEvents()).filter((e) => e.type === 'Batch')
  return events.flatMap((e) => {
    const r = (e.event.data as unknown as { reasons: { toBigInt(): bigint } }).reasons.toBigInt()
    return Array.from({ length: LEDGER_BATCH_SIZE }, (_, i) => skipReasonAt(r, i))
  })
}

beforeAll(async () => {
  chain = await startTestChain({ proofsEnabled: false, users: 1, credits: 10_000_000n })
  minted = 10_000_000n
  payer = chain.payer.key
  sponsor = chain.users[0]!
  otherHolders = [sponsor.toPublicKey()]
})

/** Every ledger a test deploys, so conservation counts credits locked in the others too. */
async function ledger(): Promise<LedgerHandle> {
  const l = await newLedger()
  // Its vault, and its runner once a redeem pays it credits.
  otherHolders.push(l.address, l.runnerKey.toPublicKey())
  return l
}

/**
 * A ledger deployed with its ServiceContract, as the stack deploys them: for tests that need the
 * service's own methods (the runner's heartbeat) beside the ledger's.
 */
async function serviceLedger(): Promise<{ l: LedgerHandle; service: TestService }> {
  const service = await chain.deployService({ price: PRICE, timelock: TIMELOCK })
  const l = new LedgerHandle(service.ledgerKey, service.runnerKey, service.address)
  otherHolders.push(l.address, l.runnerKey.toPublicKey())
  return { l, service }
}

/** Counts a ledger's vault and runner only once: removed from the others while a test inspects it. */
function own(l: LedgerHandle) {
  const mine = [l.address, l.runnerKey.toPublicKey()]
  otherHolders = otherHolders.filter((k) => !mine.some((m) => m.equals(k).toBoolean()))
  return () => otherHolders.push(...mine)
}

describe('ChannelLedger: no griefing', () => {
  it("a stranger's request, withdrawal, deposit and batch landing first change nothing for the parties", async () => {
    const l = await ledger()
    const release = own(l)
    const user = newUser()
    const stranger = await fundedUser(10n)
    const runner = l.runnerKey.toPublicKey()
    // A sponsor deposits for the user, who never held credits.
    await l.deposit(payer, sponsor, user.toPublicKey(), 100n)
    nextBlock()

    // Before each of the parties' transactions, the stranger lands everything it can: a
    // withdrawal request and a withdrawal with no deposit (the old design's griefing case), and
    // a 1-credit deposit for the user (which cancelled the old design's withdraw).
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
    // The runner is paid exactly price × results, as receipts, and redeems them for credits.
    expect(l.receipts(runner)).toBe(30n)
    expectConserved(l, [user.toPublicKey(), stranger.toPublicKey()], [user.toPublicKey()])

    chain.local.incrementGlobalSlot(TIMELOCK + 20)
    await grief()
    await l.withdraw(payer, user)
    await grief()
    await l.processAll(payer)
    const after = l.channel(user.toPublicKey())
    // Six 1-credit deposits were applied before the withdrawal (refunded with it); the seventh
    // landed after it and stays for the next withdrawal.
    expect(after.deposited.toBigInt()).toBe(31n)
    expect(after.channel.voucherNonce.toBigInt()).toBe(2n)
    expect(after.channel.withdrawRequestedAtSlot.toBigint()).toBe(0n)
    // The refund is granted in the channel, for the user to pull.
    expect(after.refunded.toBigInt()).toBe(100n + 6n - 30n)
    expect(l.channel(stranger.toPublicKey()).refunded.toBigInt()).toBe(0n)
    expectConserved(l, [user.toPublicKey(), stranger.toPublicKey()], [user.toPublicKey()])

    // The sponsored user (no credit account yet) pulls the refund, the runner redeems its pay.
    await l.refund(payer, user)
    await l.redeem(payer, l.runnerKey, 30n)
    expect(credits(user.toPublicKey())).toBe(76n)
    expect(credits(runner)).toBe(30n)
    expect(l.receipts(user.toPublicKey())).toBe(76n)
    expect(l.receipts(runner)).toBe(0n)
    expect(credits(stranger.toPublicKey())).toBe(10n - 7n)
    expectConserved(l, [user.toPublicKey(), stranger.toPublicKey()], [user.toPublicKey()])
    // A refund pulls once; the stranger has none; only the runner redeems receipts.
    await expect(l.refund(payer, user)).rejects.toThrow(ServiceErrors.nothingToRefund)
    await expect(l.refund(payer, stranger)).rejects.toThrow(ServiceErrors.nothingToRefund)
    await expect(l.redeem(payer, user, 1n)).rejects.toThrow(ServiceErrors.notRunner)
    // Nobody raises a user's pulled-refund count without the user's signature (it would cost
    // them their refund): a stranger calling releaseRefund directly is refused.
    await l.deposit(payer, sponsor, user.toPublicKey(), 50n)
    await l.requestWithdraw(payer, user, 2n)
    await l.processAll(payer)
    chain.local.incrementGlobalSlot(TIMELOCK + 20)
    await l.withdraw(payer, user)
    await l.processAll(payer)
    expect(l.channel(user.toPublicKey()).refunded.toBigInt()).toBe(76n + 51n)
    await expect(
      send(payer, [stranger], async () => {
        await l.contract.releaseRefund(
          user.toPublicKey(),
          UInt64.from(76n),
          l.channel(user.toPublicKey()),
          l.map.clone() as ChannelMap,
        )
      }),
    ).rejects.toThrow()
    expect(l.receipts(user.toPublicKey())).toBe(76n)
    await l.refund(payer, user)
    expect(credits(user.toPublicKey())).toBe(76n + 51n)
    await expect(l.redeem(payer, stranger, 1n)).rejects.toThrow(ServiceErrors.notRunner)
    expectConserved(l, [user.toPublicKey(), stranger.toPublicKey()], [user.toPublicKey()])
    release()
  })

  it('a batch prepared before a stranger dispatches in the next block still lands', async () => {
    const l = await ledger()
    const user = newUser()
    const stranger = await fundedUser(1n)
    await l.deposit(payer, sponsor, user.toPublicKey(), 50n)
    await l.claim(payer, user.toPublicKey(), testDigests(1), l.voucher(user, 10n, 1n))
    nextBlock()
    const [batch] = await l.prepare()
    await l.requestWithdraw(payer, stranger, 0n)
    await l.deposit(payer, stranger, stranger.toPublicKey(), 1n)
    await l.sendBatch(payer, batch!)
    expect(l.channel(user.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(10n)
    expect(l.receipts(l.runnerKey.toPublicKey())).toBe(10n)
    // The stranger's actions are pending for the next batch.
    await l.processAll(payer)
    expect(l.channel(stranger.toPublicKey()).deposited.toBigInt()).toBe(1n)
  })

  it('an old voucher does not settle after a withdrawal, not even against a new deposit', async () => {
    const l = await ledger()
    const user = newUser()
    await l.deposit(payer, sponsor, user.toPublicKey(), 100n)
    const old = l.voucher(user, 20n, 2n)
    await l.claim(payer, user.toPublicKey(), testDigests(1), l.voucher(user, 10n, 1n))
    await l.requestWithdraw(payer, user, 2n)
    await l.processAll(payer)
    chain.local.incrementGlobalSlot(TIMELOCK + 20)
    await l.withdraw(payer, user)
    await l.processAll(payer)
    expect(l.channel(user.toPublicKey()).refunded.toBigInt()).toBe(90n)
    await l.deposit(payer, sponsor, user.toPublicKey(), 100n)
    await l.claim(payer, user.toPublicKey(), testDigests(2), old)
    await l.processAll(payer)
    const ch = l.channel(user.toPublicKey())
    expect(ch.channel.paidSoFar.toBigInt()).toBe(10n)
    expect(ch.channel.resultsCount.toBigint()).toBe(1n)
    expect(l.receipts(l.runnerKey.toPublicKey())).toBe(10n)
    expect(await skipReasons(l)).toContain(SkipReason.staleVoucher)
  })

  it('a withdrawal before its timelock is skipped and refunds nothing', async () => {
    const l = await ledger()
    const user = newUser()
    await l.deposit(payer, sponsor, user.toPublicKey(), 100n)
    await l.requestWithdraw(payer, user, 0n)
    await l.withdraw(payer, user)
    await l.withdraw(payer, newUser())
    await l.processAll(payer)
    expect(l.channel(user.toPublicKey()).deposited.toBigInt()).toBe(100n)
    expect(l.channel(user.toPublicKey()).refunded.toBigInt()).toBe(0n)
    expect(BigInt(l.contract.refunded.get().toString())).toBe(0n)
    const reasons = await skipReasons(l)
    expect(reasons).toContain(SkipReason.timelockNotOver)
    expect(reasons).toContain(SkipReason.withdrawNotRequested)
  })

  it('refuses, with their error constants, claims the runner did not sign or prove', async () => {
    const l = await ledger()
    const user = newUser()
    const other = newUser()
    await l.deposit(payer, sponsor, user.toPublicKey(), 100n)
    const v = l.voucher(user, 30n, 1n)
    const before = landedSoFar(l)
    // More results claimed than the tree proves.
    await expect(
      l.claim(payer, user.toPublicKey(), testDigests(2), v, { count: 3n }),
    ).rejects.toThrow(ServiceErrors.resultsNotProved)
    // Leaves built for another user.
    await expect(
      l.claim(payer, user.toPublicKey(), testDigests(3), v, { owner: other.toPublicKey() }),
    ).rejects.toThrow(ServiceErrors.resultsNotProved)
    // Leaves built for another service, of the same user and runner key: the runner signs this
    // service's claim over the root of the other's leaves (a result settled there, reused here).
    await expect(
      l.claim(payer, user.toPublicKey(), testDigests(3), v, {
        leafService: seededKey(seed++).toPublicKey(),
      }),
    ).rejects.toThrow(ServiceErrors.resultsNotProved)
    // Signed by another key than the runner's.
    await expect(
      l.claim(payer, user.toPublicKey(), testDigests(3), v, { runnerKey: other }),
    ).rejects.toThrow(ServiceErrors.badRunnerSignature)
    // A voucher the user did not sign.
    await expect(
      l.claim(payer, user.toPublicKey(), testDigests(3), l.voucher(other, 30n, 1n)),
    ).rejects.toThrow(ServiceErrors.badVoucherSignature)
    // None of them landed: no action dispatched, no credit moved.
    expect(landedSoFar(l)).toEqual(before)
    // A timelock outside the bounds is refused at deploy.
    await expect(
      LedgerHandle.deploy(payer, seededKey(seed++), seededKey(seed++), PRICE, 0),
    ).rejects.toThrow(ServiceErrors.timelockOutOfBounds)
    await expect(
      LedgerHandle.deploy(payer, seededKey(seed++), seededKey(seed++), PRICE, 2 ** 32 - 1),
    ).rejects.toThrow(ServiceErrors.timelockOutOfBounds)
    // A price whose results could overflow a batch's 64-bit counters is refused at deploy.
    await expect(
      LedgerHandle.deploy(payer, seededKey(seed++), seededKey(seed++), MAX_PRICE_PER_JOB + 1n, 40),
    ).rejects.toThrow(ServiceErrors.priceOutOfBounds)
    // The runner has no channel (its receipts are its pay, a user's count pulled refunds).
    await expect(l.deposit(payer, sponsor, l.runnerKey.toPublicKey(), 1n)).rejects.toThrow(
      ServiceErrors.runnerHasNoChannel,
    )
    // A replayed claim lands (dispatching is open) but is skipped: paid once.
    await l.claim(payer, user.toPublicKey(), testDigests(3), v)
    await l.claim(payer, user.toPublicKey(), testDigests(3), v)
    await l.processAll(payer)
    expect(l.receipts(l.runnerKey.toPublicKey())).toBe(30n)
    expect(await skipReasons(l)).toContain(SkipReason.staleVoucher)
  })
})

describe('ChannelLedger: deploy bounds', () => {
  it('a timelock exactly at its bounds deploys, one slot outside them is refused', async () => {
    const { min, max } = WITHDRAW_TIMELOCK_BOUNDS
    // Refused before anything is sent: the ledger alone, and a service with its ledger. (A
    // handle is not printable, its contract's reducer getter throws: an accepted deploy says so.)
    for (const outside of [min - 1n, max + 1n]) {
      await expect(
        LedgerHandle.deploy(
          payer,
          seededKey(seed++),
          seededKey(seed++),
          PRICE,
          Number(outside),
        ).then(() => `deployed with timelock ${outside}`),
      ).rejects.toThrow(ServiceErrors.timelockOutOfBounds)
      await expect(
        chain.deployService({ price: PRICE, timelock: Number(outside) }),
      ).rejects.toThrow(ServiceErrors.timelockOutOfBounds)
    }
    // Accepted, and frozen as given, in the service and its ledger.
    for (const bound of [min, max]) {
      const s = await chain.deployService({ price: PRICE, timelock: Number(bound) })
      expect((await readServiceState(s.address)).terms.withdrawTimelockSlots).toBe(bound)
      const ledgerTerms = new ChannelLedger(s.ledger).terms.get().toBigInt()
      expect(decodeTerms(ledgerTerms).withdrawTimelockSlots).toBe(bound)
    }
  })
})

describe('ChannelLedger: the channel book', () => {
  it("rebuilt from the chain's actions, it holds every channel the contract holds, and counts unbatched actions", async () => {
    const l = await ledger()
    const [a, b] = [newUser(), newUser()]
    await l.deposit(payer, sponsor, a.toPublicKey(), 100n)
    await l.deposit(payer, sponsor, b.toPublicKey(), 50n)
    await l.claim(payer, a.toPublicKey(), testDigests(3), l.voucher(a, 30n, 1n))
    // Skipped in its batch: above b's deposit.
    await l.claim(payer, b.toPublicKey(), testDigests(6), l.voucher(b, 60n, 1n))
    await l.requestWithdraw(payer, a, 1n)
    await l.withdraw(payer, b)
    await l.processAll(payer)
    chain.local.incrementGlobalSlot(TIMELOCK + 20)
    await l.withdraw(payer, a)
    await l.processAll(payer)
    // Landed, not batched yet: the full book counts them, the committed one does not.
    await l.deposit(payer, sponsor, b.toPublicKey(), 25n)
    await l.claim(payer, b.toPublicKey(), testDigests(2), l.voucher(b, 20n, 2n))

    const books = await readLedgerBooks(l.address)
    expect(bookMap(books.committed).root.toBigInt()).toBe(l.map.root.toBigInt())
    for (const u of [a, b]) {
      expect(toLedgerChannel(books.committed.get(u.toPublicKey().toBase58())).hash()).toEqual(
        l.channel(u.toPublicKey()).hash(),
      )
    }
    expect(books.committed.get(a.toPublicKey().toBase58())).toMatchObject({
      paidSoFar: 30n,
      deposited: 30n,
      refunded: 70n,
      voucherNonce: 1n,
    })
    expect(books.all.fundable(a.toPublicKey().toBase58())).toBe(0n)
    expect(books.committed.fundable(b.toPublicKey().toBase58())).toBe(50n)
    expect(books.all.fundable(b.toPublicKey().toBase58())).toBe(75n - 20n)
    // And a batch built from the rebuilt book (another process's view) lands and agrees.
    await l.processAll(payer)
    const after = await readLedgerBooks(l.address)
    expect(bookMap(after.committed).root.toBigInt()).toBe(l.map.root.toBigInt())
    expect(after.committed.get(b.toPublicKey().toBase58())).toEqual(
      after.all.get(b.toPublicKey().toBase58()),
    )
  })
})

describe('ChannelLedger: many users per settlement, one block', () => {
  it("deposits, claims, withdrawal requests, withdrawals, redeems, the runner's heartbeat and a batch built on one state all land in one block", async () => {
    // A ledger and its service, so the runner's heartbeat (a ServiceContract method) is of the
    // same service as the claims and vouchers.
    const { l, service } = await serviceLedger()
    const [a, b, c] = [newUser(), newUser(), newUser()]
    for (const u of [a, b, c]) await l.deposit(payer, sponsor, u.toPublicKey(), 100n)
    await l.claim(payer, c.toPublicKey(), testDigests(1), l.voucher(c, 10n, 1n))
    await l.requestWithdraw(payer, c, 1n)
    await l.processAll(payer)
    chain.local.incrementGlobalSlot(TIMELOCK + 20)
    await l.withdraw(payer, c)
    nextBlock()
    const [pending] = await l.prepare()

    // Every transaction is built and proved against the same chain state, each paid by its own
    // party, and only then sent: in one block, none invalidates another.
    const build = async (
      feePayer: PrivateKey,
      signers: PrivateKey[],
      body: () => Promise<void>,
    ) => {
      const tx = await Mina.transaction({ sender: feePayer.toPublicKey(), fee: 1e8 }, body)
      await tx.prove()
      return tx.sign([feePayer, ...signers])
    }
    const runnerFees = newUser()
    const redeemFees = newUser()
    const batch = l.batchCall(pending!)
    // The heartbeat the agent sends (runner-heartbeat.ts): the runner signs the current slot.
    const slot = Mina.getNetworkState().globalSlotSinceGenesis.toBigint()
    const heartbeat = await heartbeatBody(
      service.address,
      service.runnerKey.toPublicKey(),
      slot,
      chain.heartbeatSign(service, slot),
    )
    // Each transaction has a fee payer of its own (one fee payer's nonce would order them).
    const fees = () => newUser()
    const txs = [
      await build(fees(), [sponsor], l.depositCall(sponsor, a.toPublicKey(), 5n)),
      await build(fees(), [sponsor], l.depositCall(sponsor, b.toPublicKey(), 5n)),
      await build(
        runnerFees,
        [],
        l.claimCall(a.toPublicKey(), testDigests(2), l.voucher(a, 20n, 1n)),
      ),
      await build(fees(), [], l.claimCall(b.toPublicKey(), testDigests(3), l.voucher(b, 30n, 1n))),
      await build(fees(), [a], () => l.contract.requestWithdraw(a.toPublicKey(), UInt64.from(1))),
      await build(fees(), [b], () => l.contract.requestWithdraw(b.toPublicKey(), UInt64.from(1))),
      // The runner redeems receipts it already holds (c's settlement) while the batch lands.
      await build(
        redeemFees,
        [l.runnerKey],
        l.redeemCall(redeemFees.toPublicKey(), l.runnerKey.toPublicKey(), 10n),
      ),
      await build(fees(), [], heartbeat),
      await build(fees(), [], batch.body),
    ]
    // Sent in the reverse of the order they were built: the batch first.
    for (const tx of txs.reverse()) {
      const sent = await tx.send()
      expect(sent.status, JSON.stringify(sent.errors)).toBe('pending')
    }
    batch.commit()
    // Every transaction landed in the same slot, the heartbeat with them.
    expect(Mina.getNetworkState().globalSlotSinceGenesis.toBigint()).toBe(slot)
    expect((await readServiceState(service.address)).heartbeat.lastHeartbeatSlot).toBe(slot)
    // The batch applied c's withdrawal: exactly deposit − paid, which c pulls.
    expect(l.channel(c.toPublicKey()).refunded.toBigInt()).toBe(90n)
    await l.refund(payer, c)
    expect(credits(c.toPublicKey())).toBe(90n)
    await l.processAll(payer)
    expect(l.channel(a.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(20n)
    expect(l.channel(b.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(30n)
    expect(l.channel(a.toPublicKey()).deposited.toBigInt()).toBe(105n)
    expect(l.channel(a.toPublicKey()).channel.withdrawRequestedAtSlot.toBigint()).toBeGreaterThan(
      0n,
    )
    expect(l.receipts(l.runnerKey.toPublicKey())).toBe(50n)
    expect(credits(l.runnerKey.toPublicKey())).toBe(10n)
  })

  it(`one batch transaction settles ${LEDGER_BATCH_SIZE} users`, async () => {
    const l = await ledger()
    const users = Array.from({ length: LEDGER_BATCH_SIZE }, newUser)
    for (const u of users) await l.deposit(payer, sponsor, u.toPublicKey(), 100n)
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
    expect(l.receipts(l.runnerKey.toPublicKey())).toBe(BigInt(LEDGER_BATCH_SIZE) * 30n)
  })
})

describe('ChannelLedger: proved', () => {
  it('a batch of claims and a withdrawal, proved, verifies on chain and pays', async () => {
    // Compiled before the deploy, so the ledger's verification key is the real one.
    const cache = Cache.FileSystem(DEFAULT_CACHE_DIR)
    await compileLedger(cache)
    const l = await ledger()
    const users = [newUser(), newUser(), newUser()]
    for (const u of users) await l.deposit(payer, sponsor, u.toPublicKey(), 100n)
    await l.processAll(payer)
    await l.claim(payer, users[0]!.toPublicKey(), testDigests(2), l.voucher(users[0]!, 20n, 1n))
    await l.claim(payer, users[1]!.toPublicKey(), testDigests(1), l.voucher(users[1]!, 10n, 1n))
    await l.requestWithdraw(payer, users[2]!, 0n)
    await l.processAll(payer)
    chain.local.incrementGlobalSlot(TIMELOCK + 20)
    await l.withdraw(payer, users[2]!)
    await l.claim(payer, users[1]!.toPublicKey(), testDigests(2), l.voucher(users[1]!, 20n, 2n))
    nextBlock()
    chain.local.setProofsEnabled(true)
    try {
      const [batch] = await l.prepare()
      const { tx } = await l.sendBatch(payer, batch!)
      expect(tx.transaction.accountUpdates[0]!.authorization.proof).toBeTruthy()
    } finally {
      chain.local.setProofsEnabled(false)
    }
    expect(l.channel(users[2]!.toPublicKey()).refunded.toBigInt()).toBe(100n)
    expect(l.receipts(l.runnerKey.toPublicKey())).toBe(40n)
    expect(l.channel(users[1]!.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(20n)
  })
})

/**
 * Users of the mass withdrawal. Fewer than the 200 so the test stays CI-cheap: every user
 * costs about two proofs-off transactions (a deposit is one a transaction, two proofs each), a few
 * seconds each on a loaded 2-core machine; 200 users were ~400 transactions. The design does not
 * depend on the number: the benchmark measures batches of LEDGER_BATCH_SIZE.
 */
const MASS_USERS = 64

describe('ChannelLedger: mass withdrawal', () => {
  it(`${MASS_USERS} users request withdrawal in one slot: every channel settled before any timelock ends, refunds and pay exact`, async () => {
    const l = await ledger()
    const release = own(l)
    const n = MASS_USERS
    const users = Array.from({ length: n }, newUser)
    const jobs = (i: number) => 1 + (i % 4)
    const deposit = (i: number) => 100n + BigInt(i)
    // One deposit a transaction: a deposit is two proofs (ledger, credit token) and three
    // unproved updates, so two exceed Mina's cost limit.
    for (const [i, u] of users.entries())
      await l.deposit(payer, sponsor, u.toPublicKey(), deposit(i))
    const groupsOf = (k: number) =>
      Array.from({ length: Math.ceil(n / k) }, (_, g) =>
        Array.from({ length: Math.min(k, n - g * k) }, (_, j) => g * k + j),
      )
    await l.processAll(payer)
    nextBlock()
    // Every user asks to withdraw in the same slot, right after their last jobs (three a
    // transaction: the most that fit Mina's cost limit).
    for (const group of groupsOf(3)) {
      const signers = group.map((i) => users[i]!)
      await send(payer, signers, async () => {
        for (const u of signers) await l.contract.requestWithdraw(u.toPublicKey(), UInt64.from(1))
      })
    }
    const requestSlot = Mina.getNetworkState().globalSlotSinceGenesis.toBigint()
    nextBlock()
    // The runner lands a claim for every channel, five a transaction, all before any timelock
    // ends: claims only dispatch, so they never collide with each other or with the requests.
    for (const group of groupsOf(5)) {
      await send(payer, [], async () => {
        for (const i of group) {
          const u = users[i]!
          const paid = PRICE * BigInt(jobs(i))
          await l.claimCall(u.toPublicKey(), testDigests(jobs(i)), l.voucher(u, paid, 1n))()
        }
      })
    }
    const claimedSlot = Mina.getNetworkState().globalSlotSinceGenesis.toBigint()
    expect(claimedSlot).toBeLessThan(requestSlot + BigInt(TIMELOCK))
    // Every timelock ends and every user withdraws before a single batch runs: the claims
    // landed first, so they apply first, however late the batches come (one a block here).
    chain.local.incrementGlobalSlot(TIMELOCK + 20)
    for (const group of groupsOf(3)) {
      const signers = group.map((i) => users[i]!)
      await send(payer, signers, async () => {
        for (const u of signers) await l.contract.withdraw(u.toPublicKey())
      })
    }
    let txs = 0
    for (;;) {
      const [batch] = await l.prepare()
      if (!batch) break
      await l.sendBatch(payer, batch)
      nextBlock()
      txs++
    }
    expect(txs).toBe(Math.ceil((3 * n) / LEDGER_BATCH_SIZE))
    for (const [i, u] of users.entries()) {
      expect(l.channel(u.toPublicKey()).channel.paidSoFar.toBigInt()).toBe(PRICE * BigInt(jobs(i)))
    }
    const paidTotal = users.reduce((s, _, i) => s + PRICE * BigInt(jobs(i)), 0n)
    const runner = l.runnerKey.toPublicKey()
    expect(l.receipts(runner)).toBe(paidTotal)
    for (const [i, u] of users.entries()) {
      expect(l.channel(u.toPublicKey()).refunded.toBigInt()).toBe(
        deposit(i) - PRICE * BigInt(jobs(i)),
      )
    }
    const holders = users.map((u) => u.toPublicKey())
    expectConserved(l, holders, holders)
    // Refunds are pulled by their users (a sample here), all built on one state and landing in
    // one block, beside the runner's redeem: a pull writes no ledger state, so none collides.
    const sample = [0, 1, 2, 3, n >> 1, n - 1]
    const pulls = []
    for (const i of sample) {
      const fees = newUser()
      const tx = await Mina.transaction(
        { sender: fees.toPublicKey(), fee: 1e8 },
        l.refundCall(fees.toPublicKey(), users[i]!.toPublicKey()),
      )
      await tx.prove()
      pulls.push(tx.sign([fees, users[i]!]))
    }
    const redeemFees = newUser()
    const redeem = await Mina.transaction(
      { sender: redeemFees.toPublicKey(), fee: 1e8 },
      l.redeemCall(redeemFees.toPublicKey(), l.runnerKey.toPublicKey(), paidTotal),
    )
    await redeem.prove()
    pulls.push(redeem.sign([redeemFees, l.runnerKey]))
    for (const tx of pulls) {
      const sent = await tx.send()
      expect(sent.status, JSON.stringify(sent.errors)).toBe('pending')
    }
    for (const i of sample) {
      const u = users[i]!
      expect(credits(u.toPublicKey())).toBe(deposit(i) - PRICE * BigInt(jobs(i)))
      expect(l.receipts(u.toPublicKey())).toBe(deposit(i) - PRICE * BigInt(jobs(i)))
    }
    expect(credits(runner)).toBe(paidTotal)
    expectConserved(l, holders, holders)
    release()
    // About 200 proofs-off transactions (12 batches of 16 among them), each running its circuit
    // to build the witness: beyond the default 10 minutes on the loaded shared machine.
  }, 1_800_000)
})

import { FungibleToken } from 'mina-fungible-token'
import {
  AccountUpdate,
  Field,
  Mina,
  Permissions,
  type PrivateKey,
  type PublicKey,
  TokenId,
  Types,
  UInt32,
  UInt64,
  VerificationKey,
} from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  CHANNELS_MAP_HEIGHT,
  checkGenuineService,
  EMPTY_ACTION_STATE,
  FROZEN_LEDGER_PERMISSIONS,
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  type GenuineCode,
  UnsafeServiceCode,
  WITHDRAW_TIMELOCK_BOUNDS,
} from '../protocol/index.ts'
import { CHANNEL_MAP_HEIGHT, Channel, ChannelMap, channelKey } from './channel.ts'
import { ChannelLedger, frozenLedgerPermissions, LedgerChannel } from './channel-ledger.ts'
import * as client from './client.ts'
import { creditTokenAddress, creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { LedgerVault } from './ledger-vault.ts'
import { dummyGenuineCode, readServiceAccounts, readSolvency } from './service-accounts.ts'
import { ServiceContract } from './service-contract.ts'
import {
  seededEvenKey,
  seededKey,
  startTestChain,
  type TestChain,
  type TestService,
  testDigests,
} from './test-chain.ts'

// Operators cannot take deposits: each attack an operator (the service and ledger key holder) can
// mount at deploy time, run on a LocalBlockchain, and the readers' genuine-and-frozen check
// refusing it. Deposits go to the service's ledger, so every attack on the ledger counts too.

let chain: TestChain
let code: GenuineCode

const props = (seed: number) => ({
  sourceCommitment: Field(0xc0ffeen),
  descriptorCid: [Field(0x55n << 128n), Field(seed)] as [Field, Field],
  pricePerJob: UInt64.from(10),
  withdrawTimelockSlots: UInt32.from(Number(WITHDRAW_TIMELOCK_BOUNDS.min)),
  runner: seededKey(seed + 1).toPublicKey(),
  workerKeyHash: Field(42),
})

async function send(signers: PrivateKey[], body: () => Promise<void>) {
  const tx = await Mina.transaction(chain.payer.key.toPublicKey(), body)
  await tx.prove()
  await tx.sign([chain.payer.key, ...signers]).send()
}

/**
 * An operator's own deploy of a service and a ledger, in one transaction: the genuine way unless
 * an option changes one part (what the ledger is bound to and charges, its permissions, its vault,
 * the service's code).
 */
async function operatorDeploy(
  seed: number,
  o: {
    ledgerFor?: PublicKey
    ledgerPrice?: number
    ledgerPermissions?: ReturnType<typeof frozenLedgerPermissions>
    noVault?: boolean
    serviceVkHash?: Field
    /** Receipts the ledger key mints, in the deploy transaction before the ledger's freeze. */
    preMint?: { to: PublicKey; amount: bigint }[]
    /** A channels root the ledger key writes in the deploy, before the freeze. */
    channelsRoot?: Field
    /** A runnerPaid the ledger key writes in the deploy, before the freeze. */
    runnerPaid?: bigint
  } = {},
) {
  const key = seededKey(seed)
  const ledgerKey = seededEvenKey(seed + 50)
  const address = key.toPublicKey()
  const p = props(seed)
  await send([key, ledgerKey], async () => {
    AccountUpdate.fundNewAccount(
      chain.payer.key.toPublicKey(),
      (o.noVault ? 2 : 3) + (o.preMint?.length ?? 0),
    )
    const dummy = await VerificationKey.dummy()
    await new ServiceContract(address).deploy({
      ...p,
      ledger: ledgerKey.toPublicKey(),
      ...(o.serviceVkHash ? { verificationKey: { data: dummy.data, hash: o.serviceVkHash } } : {}),
    })
    const ledger = new ChannelLedger(ledgerKey.toPublicKey())
    await ledger.deployLedger(
      o.ledgerFor ?? address,
      p.runner,
      UInt64.from(o.ledgerPrice ?? 10),
      p.withdrawTimelockSlots,
    )
    if (o.ledgerPermissions) ledger.account.permissions.set(o.ledgerPermissions)
    if (o.channelsRoot) ledger.channelsRoot.set(o.channelsRoot)
    if (o.runnerPaid !== undefined) ledger.runnerPaid.set(Field(o.runnerPaid))
    // In the deploy's own account update, authorized by the ledger key's signature against the
    // permissions before it (the freeze applies to what comes after).
    for (const m of o.preMint ?? [])
      ledger.internal.mint({ address: m.to, amount: UInt64.from(m.amount) })
    if (!o.noVault) {
      const vault = new LedgerVault(ledgerKey.toPublicKey(), creditTokenId())
      await vault.deploy()
      await new FungibleToken(creditTokenAddress()).approveAccountUpdate(vault.self)
    }
  })
  return {
    key,
    ledgerKey,
    address,
    ledger: ledgerKey.toPublicKey(),
    runnerKey: seededKey(seed + 1),
  }
}

beforeAll(async () => {
  chain = await startTestChain({ users: 2, credits: 10_000n })
  code = await dummyGenuineCode()
})

describe('operators cannot take deposits', () => {
  it('the frozen permission sets readers expect are the ones the contracts set', async () => {
    const s = await chain.deployService()
    const json = (k: PublicKey, t?: Field) =>
      Types.Account.toJSON(Mina.getAccount(k, t)).permissions
    expect(json(s.address)).toMatchObject(FROZEN_SERVICE_PERMISSIONS)
    expect(json(s.ledger)).toMatchObject(FROZEN_LEDGER_PERMISSIONS)
    expect(json(s.ledger, creditTokenId())).toMatchObject(FROZEN_VAULT_PERMISSIONS)
  })

  it('accepts a service deployed the genuine way (service, ledger and vault, frozen, bound)', async () => {
    const s = await chain.deployService()
    const accounts = await readServiceAccounts(s.address)
    expect(accounts.ledgerAddress).toBe(s.ledger.toBase58())
    expect(checkGenuineService(accounts, code)).toEqual({ genuine: true })
    const own = await operatorDeploy(6901)
    expect(checkGenuineService(await readServiceAccounts(own.address), code)).toEqual({
      genuine: true,
    })
  })

  it('refuses a fake vault: the genuine ledger without its LedgerVault, escrow a plain account', async () => {
    const s = await operatorDeploy(7001, { noVault: true })
    const user = chain.users[0]!
    const token = new FungibleToken(creditTokenAddress())
    // The "escrow" a user pays into: a plain (ledger, credit token) account, seeded by transfer.
    await send([user], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await token.transfer(user.toPublicKey(), s.ledger, UInt64.from(2000))
    })
    // The state decodes normally: a reader of zkappState alone would list it.
    expect((await client.readServiceState(s.address)).terms.pricePerJob).toBe(10n)
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toMatchObject({
      genuine: false,
      code: UnsafeServiceCode.NO_LEDGER_VAULT,
    })
    // What the check prevents: the ledger key moves the deposit out.
    const thief = seededKey(7002).toPublicKey()
    await send([s.ledgerKey], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await token.transfer(s.ledger, thief, UInt64.from(2000))
    })
    expect(await client.readEscrow(s.address)).toBe(0n)
  })

  it('refuses a ledger whose permissions are not frozen', async () => {
    const s = await operatorDeploy(7101, {
      ledgerPermissions: { ...frozenLedgerPermissions(), send: Permissions.signature() },
    })
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toEqual({
      genuine: false,
      code: UnsafeServiceCode.NOT_FROZEN,
      reason: 'ledger permission send is Signature, not Proof',
    })
  })

  it('refuses a service running other code (a verification key of another hash)', async () => {
    const s = await operatorDeploy(7201, { serviceVkHash: Field(123) })
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toMatchObject({
      genuine: false,
      code: UnsafeServiceCode.WRONG_CODE,
    })
  })

  it('refuses a ledger bound to another service, and one with other terms', async () => {
    const other = seededKey(7350).toPublicKey()
    const s = await operatorDeploy(7301, { ledgerFor: other })
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toMatchObject({
      genuine: false,
      code: UnsafeServiceCode.LEDGER_NOT_BOUND,
    })
    const cheaper = await operatorDeploy(7401, { ledgerPrice: 9 })
    expect(checkGenuineService(await readServiceAccounts(cheaper.address), code)).toMatchObject({
      genuine: false,
      code: UnsafeServiceCode.LEDGER_TERMS_DIFFER,
    })
  })

  it('refuses a frozen code whose freeze was made for another transaction version', async () => {
    const s = await chain.deployService()
    expect(
      checkGenuineService(await readServiceAccounts(s.address), { ...code, txnVersion: '4' }),
    ).toMatchObject({ genuine: false, code: UnsafeServiceCode.VK_UNFROZEN_BY_UPGRADE })
  })
})

describe('receipts minted before the freeze pay nobody', () => {
  it('the runner is never paid more than the batches paid it, whatever it was minted before the freeze', async () => {
    const accomplice = seededKey(7560)
    const s = await operatorDeploy(7501, {
      preMint: [
        { to: accomplice.toPublicKey(), amount: 1500n },
        // The runner's receipt account, with 1,500 receipts nobody paid for.
        { to: props(7501).runner, amount: 1500n },
      ],
    })
    const runner = s.runnerKey.toPublicKey()
    const receipts = TokenId.derive(s.ledger)
    expect(Mina.getBalance(runner, receipts).toBigInt()).toBe(1500n)
    // Still a genuine, frozen service for every reader: the mints left no trace in its accounts.
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toEqual({
      genuine: true,
    })
    const [alice, bob] = chain.users as [PrivateKey, PrivateKey]
    await client.deposit(chain.payer, s.address, alice, alice.toPublicKey(), 1000n)
    await client.deposit(chain.payer, s.address, bob, bob.toPublicKey(), 1000n)
    expect(await client.readEscrow(s.address)).toBe(2000n)

    // The runner's pre-minted receipts redeem nothing: the batches paid it nothing yet.
    expect(await client.readRedeemable(s.address)).toBe(0n)
    await expect(client.redeem(chain.payer, s.address, s.runnerKey, 1500n)).rejects.toThrow(
      ServiceErrors.redeemAbovePaid,
    )
    await expect(client.redeem(chain.payer, s.address, s.runnerKey, 1n)).rejects.toThrow(
      ServiceErrors.redeemAbovePaid,
    )
    // The accomplice's receipts are no claim either: only the runner redeems, and a user's
    // receipts count the refunds they pulled, so they only lower what a refund pays.
    await expect(client.redeem(chain.payer, s.address, accomplice, 1500n)).rejects.toThrow(
      ServiceErrors.notRunner,
    )
    await expect(client.refund(chain.payer, s.address, accomplice)).rejects.toThrow(
      ServiceErrors.nothingToRefund,
    )
    expect(await client.readEscrow(s.address)).toBe(2000n)

    // An honest settlement: 3 results of Alice at 10 each. The runner redeems exactly that.
    const svc: TestService = {
      key: s.key,
      address: s.address,
      runnerKey: s.runnerKey,
      ledgerKey: s.ledgerKey,
      ledger: s.ledger,
      price: 10n,
      timelock: Number(WITHDRAW_TIMELOCK_BOUNDS.min),
    }
    await chain.claimResults(
      svc,
      alice.toPublicKey(),
      testDigests(3),
      chain.voucher(alice, svc, 30n, 1n),
    )
    await client.processBatches(chain.payer, s.address, runner)
    expect(await client.readRedeemable(s.address)).toBe(30n)
    await expect(client.redeem(chain.payer, s.address, s.runnerKey, 31n)).rejects.toThrow(
      ServiceErrors.redeemAbovePaid,
    )
    await client.redeem(chain.payer, s.address, s.runnerKey, 30n)
    expect(await client.readCredits(runner)).toBe(30n)
    expect(await client.readRedeemable(s.address)).toBe(0n)
    await expect(client.redeem(chain.payer, s.address, s.runnerKey, 1n)).rejects.toThrow(
      ServiceErrors.redeemAbovePaid,
    )
    // Only the settled 30 left the escrow; the runner still holds 1,500 receipts worth nothing.
    expect(await client.readEscrow(s.address)).toBe(2000n - 30n)
    expect(Mina.getBalance(runner, receipts).toBigInt()).toBe(1500n)
  })
})

// State set before the freeze: the ledger key writes the ledger's state in its deploy (a channels
// map with a refund for an accomplice, a runnerPaid the runner redeems), or moves deposits out of
// the escrow before the vault freezes it. Each passes the genuine-and-frozen check; the solvency
// check (protocol's readLedgerSolvency, on this chain's real accounts and actions through the
// readers' own documents) refuses each, and accepts an honest ledger with a gift in its escrow.
describe('a ledger whose money does not add up is refused', () => {
  // The readers' own documents, answered by this chain (service-accounts' localLedgerSources).
  const solvency = (ledger: PublicKey) => readSolvency(ledger.toBase58())

  it('accepts an honest ledger through deposits, a batch, a redeem, a refund and a gift', async () => {
    expect(CHANNELS_MAP_HEIGHT).toBe(CHANNEL_MAP_HEIGHT)
    const s = await chain.deployService({ timelock: Number(WITHDRAW_TIMELOCK_BOUNDS.min) })
    const [alice, bob] = chain.users as [PrivateKey, PrivateKey]
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 0n, escrow: 0n })
    await client.deposit(chain.payer, s.address, alice, alice.toPublicKey(), 1000n)
    await client.deposit(chain.payer, s.address, bob, bob.toPublicKey(), 500n)
    // Landed, not processed: owed all the same.
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 1500n, escrow: 1500n })
    await chain.claimResults(
      s,
      alice.toPublicKey(),
      testDigests(3),
      chain.voucher(alice, s, 30n, 1n),
    )
    await client.processBatches(chain.payer, s.address, s.runnerKey.toPublicKey())
    await client.redeem(chain.payer, s.address, s.runnerKey, 30n)
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 1470n, escrow: 1470n })
    // Alice withdraws: her 970 is granted as a refund (owed until pulled), then pulled.
    await client.requestWithdraw(chain.payer, s.address, alice, 1n)
    chain.local.incrementGlobalSlot(Number(WITHDRAW_TIMELOCK_BOUNDS.min) + 20)
    await client.withdraw(chain.payer, s.address, alice)
    await client.processBatches(chain.payer, s.address, s.runnerKey.toPublicKey())
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 1470n, escrow: 1470n })
    await client.refund(chain.payer, s.address, alice)
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 500n, escrow: 500n })
    // A gift (a plain transfer into the escrow) harms nobody: accepted.
    await send([bob], async () => {
      await new FungibleToken(creditTokenAddress()).transfer(
        bob.toPublicKey(),
        s.ledger,
        UInt64.from(5),
      )
    })
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 500n, escrow: 505n })
  })

  it('recognises the stack of pending actions a batch leaves when more landed than it takes', async () => {
    const s = await chain.deployService({ timelock: Number(WITHDRAW_TIMELOCK_BOUNDS.min) })
    const [alice, bob] = chain.users as [PrivateKey, PrivateKey]
    // 18 deposits, one account update each: more than a batch's 16 actions.
    for (let i = 0; i < 18; i++) {
      const from = i % 2 === 0 ? alice : bob
      await client.deposit(chain.payer, s.address, from, from.toPublicKey(), 10n)
    }
    const body = await client.nextBatchBody(s.ledger, s.runnerKey.toPublicKey())
    if (!body) throw new Error('no batch to send')
    await send([], body)
    // The batch took 16 and left the other two on its stack (o1js BatchReducer).
    expect(new ChannelLedger(s.ledger).actionStack.get().toBigInt()).not.toBe(EMPTY_ACTION_STATE)
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 180n, escrow: 180n })
    await client.processBatches(chain.payer, s.address, s.runnerKey.toPublicKey())
    expect(await solvency(s.ledger)).toEqual({ solvent: true, owed: 180n, escrow: 180n })
  })

  it('refuses a channels map written before the freeze, which pays an accomplice a refund', async () => {
    const accomplice = seededKey(7660)
    const forged = new LedgerChannel({
      channel: Channel.empty(),
      deposited: UInt64.zero,
      refunded: UInt64.from(1500),
    })
    const map = new ChannelMap()
    map.insert(channelKey(accomplice.toPublicKey()), forged.hash())
    const s = await operatorDeploy(7601, { channelsRoot: map.root })
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toEqual({
      genuine: true,
    })
    const [alice, bob] = chain.users as [PrivateKey, PrivateKey]
    await client.deposit(chain.payer, s.address, alice, alice.toPublicKey(), 1000n)
    await client.deposit(chain.payer, s.address, bob, bob.toPublicKey(), 1000n)
    expect(await solvency(s.ledger)).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.CHANNELS_NOT_REBUILT,
    })
    // What the check prevents: the accomplice pulls 1,500 of the others' 2,000.
    await send([accomplice], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 2)
      const vault = new LedgerVault(s.ledger, creditTokenId())
      await vault.refund(accomplice.toPublicKey(), UInt64.zero, forged, map)
      await new FungibleToken(creditTokenAddress()).approveAccountUpdate(vault.self)
    })
    expect(await client.readEscrow(s.address)).toBe(500n)
  })

  it('refuses a runnerPaid written before the freeze, which the runner redeems', async () => {
    const runner = props(7701).runner
    const s = await operatorDeploy(7701, {
      runnerPaid: 1500n,
      preMint: [{ to: runner, amount: 1500n }],
    })
    const [alice, bob] = chain.users as [PrivateKey, PrivateKey]
    await client.deposit(chain.payer, s.address, alice, alice.toPublicKey(), 1000n)
    await client.deposit(chain.payer, s.address, bob, bob.toPublicKey(), 1000n)
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toEqual({
      genuine: true,
    })
    expect(await solvency(s.ledger)).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.LEDGER_COUNTERS_DIFFER,
    })
    // What the check prevents: the runner redeems 1,500 no batch paid it.
    await client.redeem(chain.payer, s.address, s.runnerKey, 1500n)
    expect(await client.readEscrow(s.address)).toBe(500n)
  })

  it('refuses an escrow emptied before its vault was deployed', async () => {
    const s = await operatorDeploy(7801, { noVault: true })
    const [alice, bob] = chain.users as [PrivateKey, PrivateKey]
    const token = new FungibleToken(creditTokenAddress())
    // The escrow account exists (a 1-credit transfer opened it), so deposits land in it...
    await send([bob], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await token.transfer(bob.toPublicKey(), s.ledger, UInt64.from(1))
    })
    await client.deposit(chain.payer, s.address, alice, alice.toPublicKey(), 1000n)
    // ...the ledger key moves them out, then deploys the genuine vault over the empty account.
    await send([s.ledgerKey], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await token.transfer(s.ledger, seededKey(7802).toPublicKey(), UInt64.from(1001))
    })
    await send([s.ledgerKey], async () => {
      const vault = new LedgerVault(s.ledger, creditTokenId())
      await vault.deploy()
      await token.approveAccountUpdate(vault.self)
    })
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toEqual({
      genuine: true,
    })
    expect(await solvency(s.ledger)).toEqual({
      solvent: false,
      code: UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
      reason: 'the escrow holds 0 credits but the ledger owes 1000: short by 1000',
    })
  })
})

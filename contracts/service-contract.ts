import { FungibleToken } from 'mina-fungible-token'
import {
  AccountUpdate,
  AccountUpdateForest,
  Bool,
  DeployArgs,
  Field,
  Mina,
  method,
  Permissions,
  Poseidon,
  Provable,
  PublicKey,
  Signature,
  State,
  Struct,
  state,
  TokenContract,
  UInt32,
  UInt64,
} from 'o1js'
import { SLOT_WINDOW } from '../protocol/chain-layout.ts'
import {
  HEARTBEAT_DOMAIN,
  RESULT_LEAF_DOMAIN,
  SETTLE_DOMAIN,
  VOUCHER_DOMAIN,
  WITHDRAW_TIMELOCK_BOUNDS,
  withdrawTimelockInBounds,
} from '../protocol/index.ts'
import { Channel, ChannelMap, channelKey } from './channel.ts'
import { creditTokenAddress, creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { Heartbeat, Terms } from './packing.ts'
import { RESULTS_TREE_LEAVES, ResultWitness } from './results-tree.ts'
import {
  ChannelEvent,
  DepositEvent,
  HeartbeatEvent,
  SettleEvent,
  WithdrawEvent,
  WithdrawRequestEvent,
} from './service-events.ts'

// A heartbeat or withdrawal request is valid SLOT_WINDOW slots after the slot it names (the rule
// lives in protocol: readers derive deadlines from it).
export { SLOT_WINDOW }

/** Deploy arguments of a service version; all of them are frozen for the contract's life. */
export interface ServiceDeployProps extends Exclude<DeployArgs, undefined> {
  /** Git commit SHA-1 of the pipeline definition, as a 160-bit integer. */
  sourceCommitment: Field
  /** `cidToFields(cid)` of the ServiceDescriptor JSON on IPFS. */
  descriptorCid: [Field, Field]
  /** Price of one job in credits. */
  pricePerJob: UInt64
  /**
   * Slots between a withdrawal request and the withdrawal, during which the runner may settle;
   * within WITHDRAW_TIMELOCK_BOUNDS (protocol), refused at deploy otherwise.
   */
  withdrawTimelockSlots: UInt32
  /** The runner's oracle key: signs settlements and heartbeats, receives the payments. */
  runner: PublicKey
  /** Poseidon(digestToFields(sha256(Worker HPKE public key))). */
  workerKeyHash: Field
}

/** The voucher fields a user signs (the signature goes beside it). */
export class VoucherFields extends Struct({ cumulativeAmount: UInt64, nonce: UInt64 }) {}

/**
 * What the runner signs about a user's results in a settlement: the new results root, how many
 * leaves it holds, and the SettledLeaves document (`cidToFields`) behind it. `lastDigestHi/Lo`
 * (`digestToFields`) name the manifest of the last leaf, which the contract rebuilds as a leaf of
 * this service and user.
 */
export class SettleClaim extends Struct({
  resultsRoot: Field,
  resultsCount: UInt32,
  leavesCid0: Field,
  leavesCid1: Field,
  lastDigestHi: Field,
  lastDigestLo: Field,
}) {}

const MAX_TIMELOCK = UInt32.from(WITHDRAW_TIMELOCK_BOUNDS.max)

/** Permissions that freeze a deployed service: code, permissions and frozen state for good. */
export function frozenServicePermissions() {
  return {
    ...Permissions.default(),
    editState: Permissions.proof(),
    send: Permissions.proof(),
    receive: Permissions.none(),
    // Follows a hard fork (the permission falls back to signature after a protocol upgrade),
    // but no upgrade is possible while the current transaction version holds.
    setVerificationKey: Permissions.VerificationKey.impossibleDuringCurrentVersion(),
    setPermissions: Permissions.impossible(),
    setZkappUri: Permissions.impossible(),
    setTokenSymbol: Permissions.impossible(),
    setDelegate: Permissions.impossible(),
    setVotingFor: Permissions.impossible(),
    setTiming: Permissions.impossible(),
    editActionState: Permissions.impossible(),
    incrementNonce: Permissions.proof(),
    // A token owner must never be accessible by signature: the key holder could mint receipts.
    access: Permissions.proof(),
  }
}

/**
 * One version of one service. Lives at (address, MINA); its credits live in the ServiceVault at
 * (address, credit token). Owner of the "deposit receipts" token: a user's receipt balance is
 * their cumulative deposit, so deposits never touch shared state and never collide.
 */
export class ServiceContract extends TokenContract {
  @state(Field) sourceCommitment = State<Field>()
  @state(Field) descriptorCid0 = State<Field>()
  @state(Field) descriptorCid1 = State<Field>()
  @state(Field) terms = State<Field>()
  @state(Field) runnerKeyHash = State<Field>()
  @state(Field) workerKeyHash = State<Field>()
  @state(Field) channelsRoot = State<Field>()
  @state(Field) heartbeatState = State<Field>()

  override readonly events = {
    Deposit: DepositEvent,
    Channel: ChannelEvent,
    Settle: SettleEvent,
    WithdrawRequest: WithdrawRequestEvent,
    Withdraw: WithdrawEvent,
    Heartbeat: HeartbeatEvent,
  }

  override async deploy(props: ServiceDeployProps) {
    // A timelock of 0 leaves the runner no time to settle; one near 2^32 overflows the unlock slot.
    if (!withdrawTimelockInBounds(props.withdrawTimelockSlots.toBigint()))
      throw new Error(ServiceErrors.timelockOutOfBounds)
    await super.deploy(props)
    this.sourceCommitment.set(props.sourceCommitment)
    this.descriptorCid0.set(props.descriptorCid[0])
    this.descriptorCid1.set(props.descriptorCid[1])
    this.terms.set(
      new Terms({
        pricePerJob: props.pricePerJob,
        withdrawTimelockSlots: props.withdrawTimelockSlots,
      }).pack(),
    )
    this.runnerKeyHash.set(Poseidon.hash(props.runner.toFields()))
    this.workerKeyHash.set(props.workerKeyHash)
    this.channelsRoot.set(new ChannelMap().root)
    this.heartbeatState.set(Field(0))
    this.account.permissions.set(frozenServicePermissions())
  }

  /** Receipts record deposits; they never move between users. */
  @method
  async approveBase(updates: AccountUpdateForest) {
    updates.isEmpty().assertTrue(ServiceErrors.receiptsNotTransferable)
  }

  /** Locks `amount` credits of `payer` (who signs) for `beneficiary`, minting as many receipts. */
  @method
  async deposit(payer: PublicKey, beneficiary: PublicKey, amount: UInt64) {
    amount.assertGreaterThan(UInt64.zero, ServiceErrors.zeroDeposit)
    const token = new FungibleToken(creditTokenAddress())
    // Into the vault account (this address, credit token); no shared state is read or written.
    await token.transfer(payer, this.address, amount)
    this.internal.mint({ address: beneficiary, amount })
    this.emitEvent('Deposit', new DepositEvent({ payer, beneficiary, amount }))
  }

  /**
   * Pays the runner price × the payable results it newly adds to a user's results tree, within the
   * user's latest voucher, and records the new root and count. The runner signs the root, the
   * count and the SettledLeaves document behind them (emitted, so anyone rebuilds the root from
   * chain and IPFS alone); the circuit proves the count: the last leaf is a result of this service
   * and user and the leaf after it is empty. Called by ServiceVault.settle, which moves the
   * credits; returns the amount paid.
   */
  @method.returns(UInt64)
  async settle(
    channels: ChannelMap,
    user: PublicKey,
    channel: Channel,
    voucher: VoucherFields,
    userSignature: Signature,
    claim: SettleClaim,
    lastWitness: ResultWitness,
    nextWitness: ResultWitness,
    runner: PublicKey,
    runnerSignature: Signature,
  ): Promise<UInt64> {
    this.requireRunner(runner)
    const self = this.address.toFields()
    runnerSignature
      .verify(runner, [
        Field(SETTLE_DOMAIN),
        ...self,
        ...user.toFields(),
        claim.resultsRoot,
        claim.resultsCount.value,
        claim.leavesCid0,
        claim.leavesCid1,
        voucher.cumulativeAmount.value,
        voucher.nonce.value,
      ])
      .assertTrue(ServiceErrors.badRunnerSignature)
    userSignature
      .verify(user, [
        Field(VOUCHER_DOMAIN),
        ...self,
        voucher.cumulativeAmount.value,
        voucher.nonce.value,
      ])
      .assertTrue(ServiceErrors.badVoucherSignature)

    const key = this.requireChannel(channels, user, channel)
    voucher.nonce.assertGreaterThan(channel.voucherNonce, ServiceErrors.staleVoucher)
    claim.resultsCount.assertGreaterThan(channel.resultsCount, ServiceErrors.noNewResults)
    this.requireResultsCount(user, claim, lastWitness, nextWitness)

    const added = UInt64.Unsafe.fromField(claim.resultsCount.sub(channel.resultsCount).value)
    const terms = Terms.unpack(this.terms.getAndRequireEquals())
    const paid = terms.pricePerJob.mul(added)
    const paidSoFar = channel.paidSoFar.add(paid)
    paidSoFar.assertLessThanOrEqual(voucher.cumulativeAmount, ServiceErrors.voucherBelowResults)
    // Within the deposit: the precondition is a range, so a deposit landing in the same block
    // (which only raises the balance) cannot invalidate it.
    const receipts = AccountUpdate.create(user, this.deriveTokenId())
    this.approve(receipts)
    const balance = Provable.witness(UInt64, () => receiptBalance(user, this.deriveTokenId()))
    paidSoFar.assertLessThanOrEqual(balance, ServiceErrors.voucherAboveDeposit)
    receipts.account.balance.requireBetween(paidSoFar, UInt64.MAXINT())

    const hb = Heartbeat.unpack(this.heartbeatState.getAndRequireEquals())
    this.heartbeatState.set(
      new Heartbeat({
        lastHeartbeatSlot: hb.lastHeartbeatSlot,
        settledJobs: hb.settledJobs.add(added),
      }).pack(),
    )

    this.payOut(runner, paid)

    const next = new Channel({
      ...channel,
      paidSoFar,
      voucherNonce: voucher.nonce,
      resultsRoot: claim.resultsRoot,
      resultsCount: claim.resultsCount,
    })
    this.storeChannel(channels, key, user, next)
    this.emitEvent(
      'Settle',
      new SettleEvent({
        user,
        cumulativeAmount: voucher.cumulativeAmount,
        nonce: voucher.nonce,
        paid,
        jobs: added,
        resultsRoot: claim.resultsRoot,
        resultsCount: claim.resultsCount,
        leavesCid0: claim.leavesCid0,
        leavesCid1: claim.leavesCid1,
      }),
    )
    return paid
  }

  /**
   * Starts the withdrawal timelock of `user` (who signs); the runner may still settle meanwhile.
   * `closeNonce` is the highest voucher nonce the user signed: the withdrawal closes the channel
   * up to it (see Channel.closeNonce).
   */
  @method
  async requestWithdraw(
    channels: ChannelMap,
    user: PublicKey,
    channel: Channel,
    closeNonce: UInt64,
  ) {
    const signer = AccountUpdate.createSigned(user)
    signer.body.useFullCommitment = Bool(true)
    const key = this.requireChannel(channels, user, channel)
    const now = this.network.globalSlotSinceGenesis.get()
    this.network.globalSlotSinceGenesis.requireBetween(now, now.add(SLOT_WINDOW))
    // Count from the latest slot the transaction can land in, so the runner always gets the
    // full timelock after the request is on chain.
    const atSlot = now.add(SLOT_WINDOW)
    const next = new Channel({ ...channel, withdrawRequestedAtSlot: atSlot, closeNonce })
    this.storeChannel(channels, key, user, next)
    this.emitEvent('WithdrawRequest', new WithdrawRequestEvent({ user, atSlot }))
  }

  /**
   * Refunds `user` (who signs) the deposit the runner was not paid, once the timelock is over, and
   * burns as many receipts. Called by ServiceVault.withdraw; returns the refund.
   */
  @method.returns(UInt64)
  async withdraw(channels: ChannelMap, user: PublicKey, channel: Channel): Promise<UInt64> {
    const key = this.requireChannel(channels, user, channel)
    channel.withdrawRequestedAtSlot.assertGreaterThan(
      UInt32.zero,
      ServiceErrors.withdrawNotRequested,
    )
    const terms = Terms.unpack(this.terms.getAndRequireEquals())
    // Deploy refuses a timelock above the maximum; clamping here too means no contract state can
    // make the unlock slot overflow and the deposit unrecoverable.
    const timelock = Provable.if(
      terms.withdrawTimelockSlots.greaterThan(MAX_TIMELOCK),
      MAX_TIMELOCK,
      terms.withdrawTimelockSlots,
    )
    const unlock = channel.withdrawRequestedAtSlot.add(timelock)
    const now = this.network.globalSlotSinceGenesis.get()
    now.assertGreaterThanOrEqual(unlock, ServiceErrors.timelockNotOver)
    this.network.globalSlotSinceGenesis.requireBetween(unlock, UInt32.MAXINT())

    const balance = Provable.witness(UInt64, () => receiptBalance(user, this.deriveTokenId()))
    const refund = balance.sub(channel.paidSoFar)
    const burn = this.internal.burn({ address: user, amount: refund })
    // At least the witnessed balance: a deposit landing first (anyone may deposit for the user)
    // must not cancel the withdrawal; it stays as receipts, refundable by the next withdrawal.
    burn.account.balance.requireBetween(balance, UInt64.MAXINT())
    this.payOut(user, refund)

    const closed = Provable.if(
      channel.closeNonce.greaterThan(channel.voucherNonce),
      channel.closeNonce,
      channel.voucherNonce,
    )
    const next = new Channel({
      ...channel,
      voucherNonce: closed,
      withdrawRequestedAtSlot: UInt32.zero,
      closeNonce: UInt64.zero,
    })
    this.storeChannel(channels, key, user, next)
    this.emitEvent('Withdraw', new WithdrawEvent({ user, refunded: refund }))
    return refund
  }

  /** Records that the runner was alive at `slot` (a recent slot it signed). */
  @method
  async heartbeat(runner: PublicKey, slot: UInt32, signature: Signature) {
    this.requireRunner(runner)
    signature
      .verify(runner, [Field(HEARTBEAT_DOMAIN), ...this.address.toFields(), slot.value])
      .assertTrue(ServiceErrors.badHeartbeatSignature)
    const now = this.network.globalSlotSinceGenesis.get()
    now.assertLessThanOrEqual(slot.add(SLOT_WINDOW), ServiceErrors.staleHeartbeat)
    this.network.globalSlotSinceGenesis.requireBetween(slot, slot.add(SLOT_WINDOW))
    const hb = Heartbeat.unpack(this.heartbeatState.getAndRequireEquals())
    slot.assertGreaterThan(hb.lastHeartbeatSlot, ServiceErrors.heartbeatNotNewer)
    this.heartbeatState.set(
      new Heartbeat({ lastHeartbeatSlot: slot, settledJobs: hb.settledJobs }).pack(),
    )
    this.emitEvent('Heartbeat', new HeartbeatEvent({ slot }))
  }

  /** Proves the claimed tree holds `resultsCount` leaves, the last one this user's (see SettleClaim). */
  private requireResultsCount(
    user: PublicKey,
    claim: SettleClaim,
    lastWitness: ResultWitness,
    nextWitness: ResultWitness,
  ) {
    const count = claim.resultsCount.value
    count.assertLessThanOrEqual(Field(RESULTS_TREE_LEAVES), ServiceErrors.resultsNotProved)
    const lastLeaf = Poseidon.hash([
      Field(RESULT_LEAF_DOMAIN),
      ...this.address.toFields(),
      ...user.toFields(),
      claim.lastDigestHi,
      claim.lastDigestLo,
    ])
    lastWitness.calculateIndex().assertEquals(count.sub(1), ServiceErrors.resultsNotProved)
    lastWitness
      .calculateRoot(lastLeaf)
      .assertEquals(claim.resultsRoot, ServiceErrors.resultsNotProved)
    const full = count.equals(Field(RESULTS_TREE_LEAVES))
    const nextEmpty = nextWitness
      .calculateIndex()
      .equals(count)
      .and(nextWitness.calculateRoot(Field(0)).equals(claim.resultsRoot))
    full.or(nextEmpty).assertTrue(ServiceErrors.resultsNotProved)
  }

  private requireRunner(runner: PublicKey) {
    Poseidon.hash(runner.toFields()).assertEquals(
      this.runnerKeyHash.getAndRequireEquals(),
      ServiceErrors.notRunner,
    )
  }

  /** Proves `channel` is the user's current channel (an absent user has the empty channel). */
  private requireChannel(channels: ChannelMap, user: PublicKey, channel: Channel): Field {
    this.channelsRoot.requireEquals(channels.root)
    const key = channelKey(user)
    const stored = channels.getOption(key).orElse(Channel.empty().hash())
    channel.hash().assertEquals(stored, ServiceErrors.channelMismatch)
    return key
  }

  private storeChannel(channels: ChannelMap, key: Field, user: PublicKey, next: Channel) {
    channels.set(key, next.hash())
    this.channelsRoot.set(channels.root)
    this.emitEvent('Channel', new ChannelEvent({ user, ...next }))
  }

  /**
   * Credits `to` with `amount` of the credit token. The account update inherits the token
   * permission from this one, which only holds under the credit token's approval: so this works
   * only inside ServiceVault (which pays) or when someone else pays out of their own pocket.
   */
  private payOut(to: PublicKey, amount: UInt64) {
    this.self.body.mayUseToken = AccountUpdate.MayUseToken.InheritFromParent
    const credit = AccountUpdate.create(to, creditTokenId())
    credit.body.mayUseToken = AccountUpdate.MayUseToken.InheritFromParent
    credit.balance.addInPlace(amount)
  }
}

/** A receipt balance outside the circuit; an account that does not exist holds nothing. */
function receiptBalance(user: PublicKey, tokenId: Field): UInt64 {
  try {
    return Mina.getBalance(user, tokenId)
  } catch {
    return UInt64.zero
  }
}

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
import { HEARTBEAT_DOMAIN, SETTLE_DOMAIN, VOUCHER_DOMAIN } from '../protocol/index.ts'
import { Channel, ChannelMap, channelKey } from './channel.ts'
import { creditTokenAddress, creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { Heartbeat, Terms } from './packing.ts'
import {
  ChannelEvent,
  DepositEvent,
  HeartbeatEvent,
  SettleEvent,
  WithdrawEvent,
  WithdrawRequestEvent,
} from './service-events.ts'

/** A heartbeat or withdrawal request is valid this many slots after the slot it names. */
export const SLOT_WINDOW = 10

/** Deploy arguments of a service version; all of them are frozen for the contract's life. */
export interface ServiceDeployProps extends Exclude<DeployArgs, undefined> {
  /** Git commit SHA-1 of the pipeline definition, as a 160-bit integer. */
  sourceCommitment: Field
  /** `cidToFields(cid)` of the ServiceDescriptor JSON on IPFS. */
  descriptorCid: [Field, Field]
  /** Price of one job in credits. */
  pricePerJob: UInt64
  /** Slots between a withdrawal request and the withdrawal, during which the runner may settle. */
  withdrawTimelockSlots: UInt32
  /** The runner's oracle key: signs settlements and heartbeats, receives the payments. */
  runner: PublicKey
  /** Poseidon(digestToFields(sha256(Worker HPKE public key))). */
  workerKeyHash: Field
}

/** The voucher fields a user signs (the signature goes beside it). */
export class VoucherFields extends Struct({ cumulativeAmount: UInt64, nonce: UInt64 }) {}

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
   * Pays the runner what a user's latest voucher newly owes and records the results root it
   * covers. `leavesCid0`/`leavesCid1` (`cidToFields`) name the SettledLeaves document behind the
   * root: signed by the runner and emitted, so anyone rebuilds the root from chain and IPFS alone.
   * Called by ServiceVault.settle, which moves the credits; returns the amount paid.
   */
  @method.returns(UInt64)
  async settle(
    channels: ChannelMap,
    user: PublicKey,
    channel: Channel,
    voucher: VoucherFields,
    userSignature: Signature,
    resultsRoot: Field,
    leavesCid0: Field,
    leavesCid1: Field,
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
        resultsRoot,
        leavesCid0,
        leavesCid1,
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
    voucher.cumulativeAmount.assertGreaterThanOrEqual(
      channel.paidSoFar,
      ServiceErrors.voucherBelowPaid,
    )
    // Within the deposit: the precondition is a range, so a deposit landing in the same block
    // (which only raises the balance) cannot invalidate it.
    const receipts = AccountUpdate.create(user, this.deriveTokenId())
    this.approve(receipts)
    const balance = Provable.witness(UInt64, () => receiptBalance(user, this.deriveTokenId()))
    voucher.cumulativeAmount.assertLessThanOrEqual(balance, ServiceErrors.voucherAboveDeposit)
    receipts.account.balance.requireBetween(voucher.cumulativeAmount, UInt64.MAXINT())

    const paid = voucher.cumulativeAmount.sub(channel.paidSoFar)
    const terms = Terms.unpack(this.terms.getAndRequireEquals())
    const free = terms.pricePerJob.equals(UInt64.zero)
    const divisor = Provable.if(free, UInt64.one, terms.pricePerJob)
    const jobs = Provable.if(free, UInt64.zero, paid.div(divisor))
    const hb = Heartbeat.unpack(this.heartbeatState.getAndRequireEquals())
    this.heartbeatState.set(
      new Heartbeat({
        lastHeartbeatSlot: hb.lastHeartbeatSlot,
        settledJobs: hb.settledJobs.add(jobs),
      }).pack(),
    )

    this.payOut(runner, paid)

    const next = new Channel({
      paidSoFar: voucher.cumulativeAmount,
      voucherNonce: voucher.nonce,
      withdrawRequestedAtSlot: channel.withdrawRequestedAtSlot,
      resultsRoot,
    })
    this.storeChannel(channels, key, user, next)
    this.emitEvent(
      'Settle',
      new SettleEvent({
        user,
        cumulativeAmount: voucher.cumulativeAmount,
        nonce: voucher.nonce,
        paid,
        jobs,
        resultsRoot,
        leavesCid0,
        leavesCid1,
      }),
    )
    return paid
  }

  /** Starts the withdrawal timelock of `user` (who signs); the runner may still settle meanwhile. */
  @method
  async requestWithdraw(channels: ChannelMap, user: PublicKey, channel: Channel) {
    const signer = AccountUpdate.createSigned(user)
    signer.body.useFullCommitment = Bool(true)
    const key = this.requireChannel(channels, user, channel)
    const now = this.network.globalSlotSinceGenesis.get()
    this.network.globalSlotSinceGenesis.requireBetween(now, now.add(SLOT_WINDOW))
    // Count from the latest slot the transaction can land in, so the runner always gets the
    // full timelock after the request is on chain.
    const atSlot = now.add(SLOT_WINDOW)
    const next = new Channel({ ...channel, withdrawRequestedAtSlot: atSlot })
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
    const unlock = channel.withdrawRequestedAtSlot.add(terms.withdrawTimelockSlots)
    const now = this.network.globalSlotSinceGenesis.get()
    now.assertGreaterThanOrEqual(unlock, ServiceErrors.timelockNotOver)
    this.network.globalSlotSinceGenesis.requireBetween(unlock, UInt32.MAXINT())

    const balance = Provable.witness(UInt64, () => receiptBalance(user, this.deriveTokenId()))
    const refund = balance.sub(channel.paidSoFar)
    const burn = this.internal.burn({ address: user, amount: refund })
    burn.account.balance.requireEquals(balance)
    this.payOut(user, refund)

    const next = new Channel({ ...channel, withdrawRequestedAtSlot: UInt32.zero })
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

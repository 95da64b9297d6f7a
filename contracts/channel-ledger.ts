import { FungibleToken } from 'mina-fungible-token'
import {
  AccountUpdate,
  AccountUpdateForest,
  Bool,
  type Cache,
  Experimental,
  Field,
  Gadgets,
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
import {
  ActionKind,
  priceInBounds,
  SETTLE_DOMAIN,
  SkipReason,
  SLOT_WINDOW,
  VOUCHER_DOMAIN,
  withdrawTimelockInBounds,
} from '../protocol/index.ts'
import { Channel, ChannelMap, channelKey } from './channel.ts'
import { creditTokenAddress } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { Terms } from './packing.ts'
import { ResultWitness } from './results-tree.ts'
import {
  frozenServicePermissions,
  requireResultsCount,
  SettleClaim,
  VoucherFields,
} from './service-contract.ts'

// The collision-free settlement ledger of a service (issue 15, "no griefing" and "many users per
// settlement"); the ServiceContract names it (its `ledger` state) and holds no money itself. See
// contracts/README.md, "Settlement without collisions". Every party's operation only dispatches an action
// and reads frozen state, so nothing a third party lands can make it fail; `processBatch`
// (anyone may call it; the runner does) applies up to LEDGER_BATCH_SIZE actions in order to the
// channels map. An action whose rule does not hold (a stale voucher, a withdrawal before its
// timelock) is skipped, with a Skipped event naming why, instead of failing a transaction.

const { BatchReducer } = Experimental

/**
 * Actions applied per processBatch transaction (one settlement transaction). A batch has a fixed
 * number of account updates whatever its size (its proof, one receipt mint to the runner for the
 * whole batch, the fee payer): refunds are not paid in the batch but recorded in the user's
 * channel and pulled by the user (`LedgerVault.refund`). So the size is bound by rows only
 * (`npm run bench -- contracts` prints them), and by the browser: the page's deposit proves
 * `deposit`, and compiling a contract compiles every method, processBatch included. In
 * WebAssembly a 2^16-row circuit cannot write its prover key (32 slots, 56,434 rows:
 * `RuntimeError: unreachable` in caml_pasta_fp_plonk_index_encode); 16 slots are 28,522 rows,
 * under 2^15 (each slot is about 1,720 rows).
 */
export const LEDGER_BATCH_SIZE = 16

export { ActionKind, SkipReason }

/**
 * One dispatched operation. Fields a kind does not use are zero. `amount`: a deposit's amount or
 * a settlement's voucher amount; `nonce`: a settlement's voucher nonce or a withdrawal request's
 * close nonce; `slot`: a withdrawal request's start slot.
 */
export class LedgerAction extends Struct({
  kind: Field,
  user: PublicKey,
  amount: UInt64,
  nonce: UInt64,
  slot: UInt32,
  resultsRoot: Field,
  resultsCount: UInt32,
}) {}

/**
 * A user's channel plus the credits deposited for them (deposits are actions here too) and the
 * refunds their withdrawals were granted in total (`refunded`): the user pulls those with
 * `LedgerVault.refund`, which pays the part above what they pulled before.
 */
export class LedgerChannel extends Struct({
  channel: Channel,
  deposited: UInt64,
  refunded: UInt64,
}) {
  static override empty(): LedgerChannel {
    return new LedgerChannel({
      channel: Channel.empty(),
      deposited: UInt64.zero,
      refunded: UInt64.zero,
    })
  }

  hash(): Field {
    return Poseidon.hash(LedgerChannel.toFields(this))
  }
}

/**
 * One event per batch (a transaction carries at most 100 event fields): `reasons` packs each
 * action's SkipReason in 3 bits, action i at bits 3i..3i+2, 0 meaning applied (or no action).
 */
export class BatchEvent extends Struct({ reasons: Field, runnerPaid: UInt64, refunded: UInt64 }) {}

/** The SkipReason of action `i` of a batch (0: applied). */
export function skipReasonAt(reasons: bigint, i: number): number {
  return Number((reasons >> BigInt(3 * i)) & 7n)
}

export const ledgerReducer = new BatchReducer({
  actionType: LedgerAction,
  batchSize: LEDGER_BATCH_SIZE,
  // Pending action lists processBatch reads itself (about 30 rows each): a full batch needs no
  // recursive action-stack proof unless more than one batch is pending.
  maxUpdatesFinalProof: LEDGER_BATCH_SIZE,
  // Action lists a recursive action-stack proof takes (3,106 rows). o1js's default, 300 (9,306
  // rows), fails to prove natively ("Constraint unsatisfied ... step_main prevs_verified",
  // Checked.inv in scalars_env): o1js builds its base-case dummy proof for a 2^14 domain, and the
  // 300-list circuit with its recursive verifier is larger. At 100 it fits and proves.
  maxUpdatesPerProof: 100,
  maxActionsPerUpdate: 1,
})
export class LedgerBatch extends ledgerReducer.Batch {}

/**
 * Compiles what proving a batch needs, with the key cache: the action-stack program first (the
 * ledger's circuit verifies its proofs), then the ledger. `BatchReducer.compile()` takes no cache.
 */
export async function compileLedger(cache: Cache): Promise<void> {
  await (
    ledgerReducer.program as unknown as { compile(o: { cache: Cache }): Promise<unknown> }
  ).compile({ cache })
  await ChannelLedger.compile({ cache })
}
export class LedgerBatchProof extends ledgerReducer.BatchProof {}

/**
 * The channel values behind the map's hashes, for the prover only: processBatch witnesses a
 * user's channel from here and proves it against the map. Keyed by ledger address, then user.
 * A batch's changes are staged (the method runs more than once: to build, then to prove) and
 * recorded by `commitLedgerBatch` once its transaction is on chain.
 */
const ledgerChannels = new Map<string, Map<string, LedgerChannel>>()
const stagedBatches = new Map<string, Map<string, LedgerChannel>>()

/** A user's channel as the ledger's last committed batch left it. */
export function ledgerChannel(ledger: PublicKey, user: PublicKey): LedgerChannel {
  return ledgerChannels.get(ledger.toBase58())?.get(user.toBase58()) ?? LedgerChannel.empty()
}

/**
 * Replaces what the prover knows of `ledger`'s committed channels, from a book rebuilt from the
 * chain (ledger-book.ts): a process that did not build the earlier batches itself.
 */
export function loadLedgerChannels(ledger: PublicKey, channels: Map<string, LedgerChannel>): void {
  ledgerChannels.set(ledger.toBase58(), new Map(channels))
  stagedBatches.delete(ledger.toBase58())
}

/** Records the channels of the batch last built for `ledger`, now on chain. */
export function commitLedgerBatch(ledger: PublicKey): void {
  const staged = stagedBatches.get(ledger.toBase58())
  if (!staged) return
  const book = ledgerChannels.get(ledger.toBase58()) ?? new Map<string, LedgerChannel>()
  for (const [user, ch] of staged) book.set(user, ch)
  ledgerChannels.set(ledger.toBase58(), book)
  stagedBatches.delete(ledger.toBase58())
}

/**
 * Permissions that freeze a deployed ledger: those of a service (contracts' service-contract),
 * except that its action state moves by proof (every operation is an action). protocol's
 * FROZEN_LEDGER_PERMISSIONS is what readers compare with.
 */
export function frozenLedgerPermissions() {
  return { ...frozenServicePermissions(), editActionState: Permissions.proof() }
}

/**
 * What a claim dispatched, for readers: the SettledLeaves document behind the results root
 * (`cidToFields`) is not part of the action, so the page and CLI find it here. A Batch event
 * says whether the claim applied.
 */
export class ClaimEvent extends Struct({
  user: PublicKey,
  cumulativeAmount: UInt64,
  nonce: UInt64,
  resultsRoot: Field,
  resultsCount: UInt32,
  leavesCid0: Field,
  leavesCid1: Field,
}) {}

/**
 * The ledger of one service: its channels map, and the owner of "payout receipts", a token whose
 * balance is credits the ledger owes a party (the runner's payments, a user's refund). Credits
 * themselves sit in the LedgerVault at (this address, credit token); a party turns receipts into
 * credits with LedgerVault.redeem, which touches only their own accounts and the vault's balance.
 */
export class ChannelLedger extends TokenContract {
  @state(Field) actionState = State(BatchReducer.initialActionState)
  @state(Field) actionStack = State(BatchReducer.initialActionStack)
  @state(Field) channelsRoot = State<Field>()
  @state(Field) terms = State<Field>()
  @state(Field) runnerKeyHash = State<Field>()
  /** Credits the batches paid the runner in total (as receipts). */
  @state(Field) runnerPaid = State<Field>()
  /** Credits the batches refunded to users in total (as receipts). */
  @state(Field) refunded = State<Field>()
  /**
   * Poseidon(service address fields) of the ServiceContract this ledger settles for (frozen).
   * Vouchers, runner claims and result leaves name the service, as everywhere off chain, so a
   * voucher or leaf of another service never settles here.
   */
  @state(Field) serviceKeyHash = State<Field>()

  override readonly events = { Batch: BatchEvent, Claim: ClaimEvent }

  /**
   * Deploys the ledger (its vault is deployed beside it, see channel-ledger-client). The runner's
   * receipt account is created here, so that every payout of processBatch lands in an account that
   * exists (a mint to a missing account would need a creation fee nobody in the batch pays).
   */
  async deployLedger(
    service: PublicKey,
    runner: PublicKey,
    pricePerJob: UInt64,
    withdrawTimelockSlots: UInt32,
  ) {
    if (!withdrawTimelockInBounds(withdrawTimelockSlots.toBigint()))
      throw new Error(ServiceErrors.timelockOutOfBounds)
    if (!priceInBounds(pricePerJob.toBigInt())) throw new Error(ServiceErrors.priceOutOfBounds)
    await super.deploy()
    this.channelsRoot.set(new ChannelMap().root)
    this.terms.set(new Terms({ pricePerJob, withdrawTimelockSlots }).pack())
    this.runnerKeyHash.set(Poseidon.hash(runner.toFields()))
    this.runnerPaid.set(Field(0))
    this.refunded.set(Field(0))
    this.serviceKeyHash.set(Poseidon.hash(service.toFields()))
    // Frozen like the service (readers check it): a token owner must never be accessible by
    // signature (the key holder could mint receipts), nor its code or permissions changeable.
    this.account.permissions.set(frozenLedgerPermissions())
  }

  /** Creates the runner's receipt account (at deploy, in the same transaction). */
  @method
  async openRunnerAccount(runner: PublicKey) {
    Poseidon.hash(runner.toFields()).assertEquals(
      this.runnerKeyHash.getAndRequireEquals(),
      ServiceErrors.notRunner,
    )
    this.internal.mint({ address: runner, amount: UInt64.zero })
  }

  /** Receipts are owed credits of one party; they move only by processBatch and redeem. */
  @method
  async approveBase(updates: AccountUpdateForest) {
    updates.isEmpty().assertTrue(ServiceErrors.receiptsNotTransferable)
  }

  /**
   * Locks `amount` credits of `payer` (who signs the transfer) in the vault for `beneficiary`, and
   * records it as an action. Reads frozen state only. The runner has no channel: its receipt
   * account holds what the ledger owes it, a user's holds the refunds they pulled (see `refund`),
   * and one account cannot be both. The beneficiary's hash is compared with the runner's, so a
   * depositor needs no runner key.
   */
  @method
  async deposit(payer: PublicKey, beneficiary: PublicKey, amount: UInt64) {
    amount.assertGreaterThan(UInt64.zero, ServiceErrors.zeroDeposit)
    Poseidon.hash(beneficiary.toFields())
      .equals(this.runnerKeyHash.getAndRequireEquals())
      .assertFalse(ServiceErrors.runnerHasNoChannel)
    const token = new FungibleToken(creditTokenAddress())
    await token.transfer(payer, this.address, amount)
    ledgerReducer.setContractInstance(this)
    ledgerReducer.dispatch(
      new LedgerAction({ ...emptyAction(beneficiary), kind: Field(ActionKind.deposit), amount }),
    )
  }

  /**
   * Burns `amount` of the runner's receipts (the runner signs) and returns `runnerPaid`, with an
   * equality precondition on it. Called by LedgerVault.redeem, which pays as many credits, at most
   * `runnerPaid` minus what it redeemed before: receipts alone do not bound a redeem, since the
   * ledger key can mint receipts to the runner before the ledger's permissions freeze. Only the
   * runner's: a user's receipt balance is the count of refunds they pulled, which must never go
   * down.
   */
  @method.returns(UInt64)
  async burnReceipts(runner: PublicKey, amount: UInt64) {
    Poseidon.hash(runner.toFields()).assertEquals(
      this.runnerKeyHash.getAndRequireEquals(),
      ServiceErrors.notRunner,
    )
    this.internal.burn({ address: runner, amount })
    // Range-checked, not trusted: a state field set before the freeze could hold any Field.
    const paid = this.runnerPaid.getAndRequireEquals()
    Gadgets.rangeCheck64(paid)
    return UInt64.Unsafe.fromField(paid)
  }

  /**
   * Releases what `user`'s withdrawals were granted above what they pulled before: proves their
   * channel against the channels root, and raises their receipt balance (the refunds pulled so
   * far, a precondition) to the channel's `refunded`. Called by LedgerVault.refund, which pays the
   * returned amount in credits. The user signs the raise: called alone (without the vault's
   * payment) it would only cost its signer their own refund.
   */
  @method.returns(UInt64)
  async releaseRefund(
    user: PublicKey,
    pulledBefore: UInt64,
    channel: LedgerChannel,
    channels: ChannelMap,
  ) {
    this.channelsRoot.requireEquals(channels.root)
    channels
      .getOption(channelKey(user))
      .orElse(LedgerChannel.empty().hash())
      .assertEquals(channel.hash(), ServiceErrors.channelMismatch)
    channel.refunded.assertGreaterThan(pulledBefore, ServiceErrors.nothingToRefund)
    const amount = channel.refunded.sub(pulledBefore)
    const counter = this.internal.mint({ address: user, amount })
    counter.requireSignature()
    counter.account.balance.requireEquals(pulledBefore)
    return amount
  }

  /**
   * The runner's settlement claim for one user of `service` (the one this ledger is bound to):
   * both signatures and the results count are checked here, against frozen state only; the
   * channel-dependent rules run in processBatch.
   */
  @method
  async claim(
    service: PublicKey,
    user: PublicKey,
    voucher: VoucherFields,
    userSignature: Signature,
    claim: SettleClaim,
    lastWitness: ResultWitness,
    nextWitness: ResultWitness,
    runner: PublicKey,
    runnerSignature: Signature,
  ) {
    Poseidon.hash(runner.toFields()).assertEquals(
      this.runnerKeyHash.getAndRequireEquals(),
      ServiceErrors.notRunner,
    )
    Poseidon.hash(service.toFields()).assertEquals(
      this.serviceKeyHash.getAndRequireEquals(),
      ServiceErrors.notThisService,
    )
    const self = service.toFields()
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
    requireResultsCount(service, user, claim, lastWitness, nextWitness)
    this.emitEvent(
      'Claim',
      new ClaimEvent({
        user,
        cumulativeAmount: voucher.cumulativeAmount,
        nonce: voucher.nonce,
        resultsRoot: claim.resultsRoot,
        resultsCount: claim.resultsCount,
        leavesCid0: claim.leavesCid0,
        leavesCid1: claim.leavesCid1,
      }),
    )
    ledgerReducer.setContractInstance(this)
    ledgerReducer.dispatch(
      new LedgerAction({
        ...emptyAction(user),
        kind: Field(ActionKind.settle),
        amount: voucher.cumulativeAmount,
        nonce: voucher.nonce,
        resultsRoot: claim.resultsRoot,
        resultsCount: claim.resultsCount,
      }),
    )
  }

  /** `user` (who signs) asks to withdraw; the timelock counts from the last slot it can land in. */
  @method
  async requestWithdraw(user: PublicKey, closeNonce: UInt64) {
    AccountUpdate.createSigned(user).body.useFullCommitment = Bool(true)
    const now = this.network.globalSlotSinceGenesis.get()
    this.network.globalSlotSinceGenesis.requireBetween(now, now.add(SLOT_WINDOW))
    ledgerReducer.setContractInstance(this)
    ledgerReducer.dispatch(
      new LedgerAction({
        ...emptyAction(user),
        kind: Field(ActionKind.requestWithdraw),
        nonce: closeNonce,
        slot: now.add(SLOT_WINDOW),
      }),
    )
  }

  /**
   * `user` (who signs) asks for the refund. The action carries a lower bound of the slot it lands
   * in (a precondition), and processBatch refunds only if that bound is past the timelock: so
   * every claim the runner landed before the timelock ended comes first in the action order,
   * however late the batch that applies them runs.
   */
  @method
  async withdraw(user: PublicKey) {
    AccountUpdate.createSigned(user).body.useFullCommitment = Bool(true)
    const now = this.network.globalSlotSinceGenesis.get()
    this.network.globalSlotSinceGenesis.requireBetween(now, UInt32.MAXINT())
    ledgerReducer.setContractInstance(this)
    ledgerReducer.dispatch(
      new LedgerAction({ ...emptyAction(user), kind: Field(ActionKind.withdraw), slot: now }),
    )
  }

  /**
   * Applies the next batch of actions, in dispatch order, to the channels map. Reads no network
   * state: every action's outcome depends on the actions before it only, whoever sends the batch
   * and whenever.
   */
  @method.returns(ChannelMap)
  async processBatch(
    batch: LedgerBatch,
    proof: LedgerBatchProof,
    channels: ChannelMap,
    runner: PublicKey,
  ) {
    Poseidon.hash(runner.toFields()).assertEquals(
      this.runnerKeyHash.getAndRequireEquals(),
      ServiceErrors.notRunner,
    )
    this.channelsRoot.requireEquals(channels.root)
    const terms = Terms.unpack(this.terms.getAndRequireEquals())
    let runnerPaid = UInt64.Unsafe.fromField(this.runnerPaid.getAndRequireEquals())
    let refunded = UInt64.Unsafe.fromField(this.refunded.getAndRequireEquals())
    const ledger = this.address
    const paidBefore = runnerPaid
    const refundedBefore = refunded
    let reasons = Field(0)
    // This run's view of the channels; each run of the method starts from the committed ones.
    const staged = new Map<string, LedgerChannel>()
    Provable.asProver(() => stagedBatches.set(ledger.toBase58(), staged))

    ledgerReducer.setContractInstance(this)
    ledgerReducer.processBatch({ batch, proof }, (action, isDummy, i) => {
      const key = channelKey(action.user)
      const current = Provable.witness(
        LedgerChannel,
        () => staged.get(action.user.toBase58()) ?? ledgerChannel(ledger, action.user),
      )
      const ch = current.channel
      const kind = action.kind

      // deposit
      const isDeposit = kind.equals(ActionKind.deposit)
      const deposited = Provable.if(
        isDeposit,
        current.deposited.add(Provable.if(isDeposit, action.amount, UInt64.zero)),
        current.deposited,
      )

      // settle: the rules ServiceContract.settle asserts, as skip conditions
      const isSettle = kind.equals(ActionKind.settle)
      const added = UInt64.Unsafe.fromField(
        Provable.if(
          action.resultsCount.greaterThan(ch.resultsCount),
          action.resultsCount.value.sub(ch.resultsCount.value),
          Field(0),
        ),
      )
      const due = terms.pricePerJob.mul(added)
      const paidSoFar = ch.paidSoFar.add(due)
      const stale = action.nonce.lessThanOrEqual(ch.voucherNonce)
      const noNew = added.equals(UInt64.zero)
      const belowResults = paidSoFar.greaterThan(action.amount)
      const aboveDeposit = paidSoFar.greaterThan(current.deposited)
      const settleReason = firstReason([
        [stale, SkipReason.staleVoucher],
        [noNew, SkipReason.noNewResults],
        [belowResults, SkipReason.voucherBelowResults],
        [aboveDeposit, SkipReason.voucherAboveDeposit],
      ])
      const settles = isSettle.and(settleReason.equals(0))
      const paid = Provable.if(settles, due, UInt64.zero)

      // requestWithdraw: always applies (a later request restarts the timelock)
      const isRequest = kind.equals(ActionKind.requestWithdraw)

      // withdraw: refunds deposited - paidSoFar after the timelock, closing older vouchers
      const isWithdraw = kind.equals(ActionKind.withdraw)
      const requested = ch.withdrawRequestedAtSlot.greaterThan(UInt32.zero)
      // Requests are at most 2^32 - 1 and timelocks at most 2^20 slots: the sum fits a Field
      // comparison without UInt32 overflow.
      const unlock = ch.withdrawRequestedAtSlot.value.add(terms.withdrawTimelockSlots.value)
      const locked = action.slot.value.lessThan(unlock)
      const withdrawReason = firstReason([
        [requested.not(), SkipReason.withdrawNotRequested],
        [locked, SkipReason.timelockNotOver],
      ])
      const withdraws = isWithdraw.and(withdrawReason.equals(0))
      const refund = Provable.if(
        withdraws,
        UInt64.Unsafe.fromField(current.deposited.value.sub(ch.paidSoFar.value)),
        UInt64.zero,
      )
      const closed = Provable.if(
        ch.closeNonce.greaterThan(ch.voucherNonce),
        ch.closeNonce,
        ch.voucherNonce,
      )

      const next = new LedgerChannel({
        channel: new Channel({
          paidSoFar: Provable.if(settles, paidSoFar, ch.paidSoFar),
          voucherNonce: Provable.if(
            settles,
            action.nonce,
            Provable.if(withdraws, closed, ch.voucherNonce),
          ),
          withdrawRequestedAtSlot: Provable.if(
            isRequest,
            action.slot,
            Provable.if(withdraws, UInt32.zero, ch.withdrawRequestedAtSlot),
          ),
          resultsRoot: Provable.if(settles, action.resultsRoot, ch.resultsRoot),
          resultsCount: Provable.if(settles, action.resultsCount, ch.resultsCount),
          closeNonce: Provable.if(
            isRequest,
            action.nonce,
            Provable.if(withdraws, UInt64.zero, ch.closeNonce),
          ),
        }),
        // After a refund nothing is left: deposited drops to what the runner was paid.
        deposited: Provable.if(withdraws, ch.paidSoFar, deposited),
        refunded: current.refunded.add(refund),
      })
      const applies = isDummy.not()
      // One map operation an action: setIf returns the value it replaced, which must be the
      // witnessed channel (a dummy slot sets key 0, never a user's, from 0 to 0).
      const replaced = channels.setIf(applies, key, next.hash())
      replaced
        .orElse(LedgerChannel.empty().hash())
        .assertEquals(Provable.if(applies, current.hash(), Field(0)), ServiceErrors.channelMismatch)
      Provable.asProver(() => {
        if (!applies.toBoolean()) return
        staged.set(
          action.user.toBase58(),
          new LedgerChannel(LedgerChannel.fromValue(LedgerChannel.toValue(next))),
        )
      })
      runnerPaid = runnerPaid.add(paid)
      refunded = refunded.add(refund)

      const reason = Provable.if(
        isSettle,
        settleReason,
        Provable.if(isWithdraw, withdrawReason, Field(0)),
      )
      reasons = reasons.add(reason.mul(Field(8n ** BigInt(i))))
    })
    // One payout for the whole batch: the runner's receipts (its account exists from deploy, and
    // nobody but this contract can change it, so the mint cannot fail). Refunds stay in the
    // channels, for their users to pull.
    this.internal.mint({ address: runner, amount: runnerPaid.sub(paidBefore) })
    this.emitEvent(
      'Batch',
      new BatchEvent({
        reasons,
        runnerPaid: runnerPaid.sub(paidBefore),
        refunded: refunded.sub(refundedBefore),
      }),
    )
    this.channelsRoot.set(channels.root)
    this.runnerPaid.set(runnerPaid.value)
    this.refunded.set(refunded.value)
    return channels
  }
}

function emptyAction(user: PublicKey) {
  return {
    kind: Field(0),
    user,
    amount: UInt64.zero,
    nonce: UInt64.zero,
    slot: UInt32.zero,
    resultsRoot: Field(0),
    resultsCount: UInt32.zero,
  }
}

/** The first reason whose condition holds, or 0. */
function firstReason(rules: [Bool, number][]): Field {
  let reason = Field(0)
  for (const [cond, code] of [...rules].reverse()) reason = Provable.if(cond, Field(code), reason)
  return reason
}

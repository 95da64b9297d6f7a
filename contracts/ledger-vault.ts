import {
  AccountUpdate,
  DeployArgs,
  Field,
  Gadgets,
  method,
  Permissions,
  PublicKey,
  SmartContract,
  State,
  state,
  UInt64,
} from 'o1js'
import { ChannelMap } from './channel.ts'
import { ChannelLedger, LedgerChannel } from './channel-ledger.ts'
import { creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'

/**
 * Permissions of a vault: credits leave only by proof; code and permissions are frozen (protocol's
 * FROZEN_VAULT_PERMISSIONS is what readers compare with).
 */
export function frozenVaultPermissions() {
  return {
    ...Permissions.default(),
    editState: Permissions.proof(),
    send: Permissions.proof(),
    // The credit token only approves permission changes that leave access and receive open.
    receive: Permissions.none(),
    access: Permissions.none(),
    setVerificationKey: Permissions.VerificationKey.impossibleDuringCurrentVersion(),
    setPermissions: Permissions.impossible(),
    setZkappUri: Permissions.impossible(),
    setTokenSymbol: Permissions.impossible(),
    setDelegate: Permissions.impossible(),
    setVotingFor: Permissions.impossible(),
    setTiming: Permissions.impossible(),
    editActionState: Permissions.impossible(),
    incrementNonce: Permissions.proof(),
  }
}

/**
 * The escrow of a ChannelLedger: the ledger's own account under the credit token. Deposits flow
 * in; credits leave only through `redeem` (the runner's pay) and `refund` (a user's granted
 * refund). Its one state field, `redeemed`, counts the credits redeem paid in total.
 */
export class LedgerVault extends SmartContract {
  /** Credits `redeem` paid the runner in total: never above the ledger's `runnerPaid`. */
  @state(Field) redeemed = State<Field>()

  override async deploy(props?: DeployArgs) {
    await super.deploy(props)
    this.redeemed.set(Field(0))
    this.account.permissions.set(frozenVaultPermissions())
  }

  /**
   * Burns `amount` of the runner's receipts (the runner signs) and pays as many credits, while
   * `redeemed + amount ≤ runnerPaid` (`redeemAbovePaid`). Receipts alone are no bound: before the
   * ledger's permissions freeze (before its deploy, or earlier in the deploy transaction) its key
   * can mint receipts to the runner, and a redeem bounded by receipts would pay them out of other
   * users' deposits. `runnerPaid` is written only by processBatch's proof, so the runner is never
   * paid more in total than the batches paid it. (`runnerPaid` and `redeemed` are range-checked:
   * a field set before the freeze is no number to trust; readers compare the ledger's state with
   * the vault's balance for the rest, see contracts/README.md.)
   *
   * Both are equality preconditions (the only kind app state has). Who can move them, so that no
   * stranger can make the runner's redeem fail:
   * - `redeemed` moves only here, and every redeem burns the runner's receipts, which needs the
   *   runner's signature (its receipt account's `send`; nobody can change that account's
   *   permissions: `approveBase` refuses every forest). A zero amount is refused, so no
   *   unsigned call runs this at all. So only the runner moves it.
   * - `runnerPaid` moves only when processBatch applies a settle action, and only the runner's
   *   `claim` dispatches those (its signature is checked at dispatch). processBatch is callable by
   *   anyone, but a batch holding no settle action of the runner rewrites the same value. So the
   *   runner redeems after its pending claims are processed (the settler: claims, one batch, then
   *   the redeem), and until it lands its next claim nobody can change the value its redeem holds.
   */
  @method
  async redeem(runner: PublicKey, amount: UInt64) {
    amount.assertGreaterThan(UInt64.zero, ServiceErrors.zeroRedeem)
    const ledger = new ChannelLedger(this.address)
    const paid = await ledger.burnReceipts(runner, amount)
    const before = this.redeemed.getAndRequireEquals()
    Gadgets.rangeCheck64(before)
    const after = UInt64.Unsafe.fromField(before).add(amount)
    after.assertLessThanOrEqual(paid, ServiceErrors.redeemAbovePaid)
    this.redeemed.set(after.value)
    this.pay(runner, amount)
  }

  /**
   * Pays `user` the refunds their withdrawals were granted above what they pulled before
   * (`ChannelLedger.releaseRefund` proves it and counts it; the user signs that count).
   */
  @method
  async refund(
    user: PublicKey,
    pulledBefore: UInt64,
    channel: LedgerChannel,
    channels: ChannelMap,
  ) {
    const ledger = new ChannelLedger(this.address)
    const amount = await ledger.releaseRefund(user, pulledBefore, channel, channels)
    this.pay(user, amount)
  }

  private pay(to: PublicKey, amount: UInt64) {
    this.balance.subInPlace(amount)
    const credit = AccountUpdate.create(to, creditTokenId())
    credit.body.mayUseToken = AccountUpdate.MayUseToken.InheritFromParent
    credit.balance.addInPlace(amount)
  }
}

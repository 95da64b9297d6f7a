import {
  AccountUpdate,
  DeployArgs,
  method,
  Permissions,
  PublicKey,
  SmartContract,
  UInt64,
} from 'o1js'
import { ChannelMap } from './channel.ts'
import { ChannelLedger, LedgerChannel } from './channel-ledger.ts'
import { creditTokenId } from './credit-token.ts'

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
 * in; credits leave only through `redeem`, one for one against the ledger's payout receipts.
 * Redeem reads no state (balance changes are deltas, not preconditions): any number of parties
 * redeem in one block, and nobody else's transaction can make theirs fail.
 */
export class LedgerVault extends SmartContract {
  override async deploy(props?: DeployArgs) {
    await super.deploy(props)
    this.account.permissions.set(frozenVaultPermissions())
  }

  /** Burns `amount` of the runner's receipts (the runner signs) and pays as many credits. */
  @method
  async redeem(runner: PublicKey, amount: UInt64) {
    const ledger = new ChannelLedger(this.address)
    await ledger.burnReceipts(runner, amount)
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

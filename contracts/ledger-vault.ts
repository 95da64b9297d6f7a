import { AccountUpdate, DeployArgs, method, PublicKey, SmartContract, UInt64 } from 'o1js'
import { ChannelLedger } from './channel-ledger.ts'
import { creditTokenId } from './credit-token.ts'
import { frozenVaultPermissions } from './service-vault.ts'

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

  /** Burns `amount` of `owner`'s receipts (the owner signs) and pays them as many credits. */
  @method
  async redeem(owner: PublicKey, amount: UInt64) {
    const ledger = new ChannelLedger(this.address)
    await ledger.burnReceipts(owner, amount)
    this.balance.subInPlace(amount)
    const credit = AccountUpdate.create(owner, creditTokenId())
    credit.body.mayUseToken = AccountUpdate.MayUseToken.InheritFromParent
    credit.balance.addInPlace(amount)
  }
}

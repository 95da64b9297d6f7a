import { DeployArgs, method, Permissions, PublicKey, Signature, SmartContract } from 'o1js'
import { Channel, ChannelMap } from './channel.ts'
import { ResultWitness } from './results-tree.ts'
import { ServiceContract, SettleClaim, VoucherFields } from './service-contract.ts'

/** Permissions of a vault: credits leave only by proof; code and permissions are frozen. */
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
 * The escrow of a service: the service's own account under the credit token. Credits leave it
 * only as the ServiceContract at the same address decides (its method is called here and its
 * result, bound by the call data, is what the vault pays).
 */
export class ServiceVault extends SmartContract {
  override async deploy(props?: DeployArgs) {
    await super.deploy(props)
    this.account.permissions.set(frozenVaultPermissions())
  }

  /** Settles through the service contract and pays the runner what it owes. */
  @method
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
  ) {
    const service = new ServiceContract(this.address)
    const paid = await service.settle(
      channels,
      user,
      channel,
      voucher,
      userSignature,
      claim,
      lastWitness,
      nextWitness,
      runner,
      runnerSignature,
    )
    this.balance.subInPlace(paid)
  }

  /** Withdraws through the service contract and refunds the user. */
  @method
  async withdraw(channels: ChannelMap, user: PublicKey, channel: Channel) {
    const service = new ServiceContract(this.address)
    const refund = await service.withdraw(channels, user, channel)
    this.balance.subInPlace(refund)
  }
}

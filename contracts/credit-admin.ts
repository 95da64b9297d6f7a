import type { FungibleTokenAdminBase } from 'mina-fungible-token'
import {
  AccountUpdate,
  assert,
  Bool,
  DeployArgs,
  method,
  Permissions,
  Provable,
  PublicKey,
  SmartContract,
  State,
  state,
  VerificationKey,
} from 'o1js'
import { CreditAdminErrors } from './errors.ts'

/** Deploy arguments of the credit admin. */
export interface CreditAdminDeployProps extends Exclude<DeployArgs, undefined> {
  /** The key whose signature allows minting, pausing and resuming credits. */
  adminPublicKey: PublicKey
}

/**
 * Minting policy of the credit token: the admin key mints (credits are sold or granted off chain)
 * and may pause in an emergency; the admin and the token's code can never change, so holders know
 * the rules they signed up for.
 */
export class CreditAdmin extends SmartContract implements FungibleTokenAdminBase {
  @state(PublicKey) adminPublicKey = State<PublicKey>()

  override async deploy(props: CreditAdminDeployProps) {
    await super.deploy(props)
    this.adminPublicKey.set(props.adminPublicKey)
    this.account.permissions.set({
      ...Permissions.default(),
      setVerificationKey: Permissions.VerificationKey.impossibleDuringCurrentVersion(),
      setPermissions: Permissions.impossible(),
    })
  }

  private async ensureAdminSignature() {
    const admin = await Provable.witnessAsync(PublicKey, async () => {
      const pk = await this.adminPublicKey.fetch()
      assert(pk !== undefined, CreditAdminErrors.noAdminKey)
      return pk
    })
    this.adminPublicKey.requireEquals(admin)
    return AccountUpdate.createSigned(admin)
  }

  /** Minting needs the admin's signature. */
  @method.returns(Bool)
  async canMint(_accountUpdate: AccountUpdate) {
    await this.ensureAdminSignature()
    return Bool(true)
  }

  /** The admin contract is fixed for the token's life. */
  @method.returns(Bool)
  async canChangeAdmin(_admin: PublicKey) {
    return Bool(false)
  }

  /** Pausing needs the admin's signature. */
  @method.returns(Bool)
  async canPause(): Promise<Bool> {
    await this.ensureAdminSignature()
    return Bool(true)
  }

  /** Resuming needs the admin's signature. */
  @method.returns(Bool)
  async canResume(): Promise<Bool> {
    await this.ensureAdminSignature()
    return Bool(true)
  }

  /** The token's verification key is frozen (deployed with allowUpdates: false anyway). */
  @method.returns(Bool)
  async canChangeVerificationKey(_vk: VerificationKey): Promise<Bool> {
    return Bool(false)
  }
}

import {
  AccountUpdate,
  Bool,
  DeployArgs,
  Field,
  method,
  Permissions,
  PublicKey,
  SmartContract,
  Struct,
} from 'o1js'
import { RegistryErrors } from './errors.ts'

/** An operator published a service version: the service contract and its descriptor CID. */
export class ServicePublishedEvent extends Struct({
  service: PublicKey,
  operator: PublicKey,
  descriptorCid0: Field,
  descriptorCid1: Field,
}) {}

/** An operator withdrew a service version from the listing (the contract itself stays). */
export class ServiceRetiredEvent extends Struct({ service: PublicKey, operator: PublicKey }) {}

/**
 * The public listing of service versions, as an event log: publishing touches no state, so any
 * number of operators publish in the same block without colliding. The page reads the events
 * through an archive node and checks each entry against the service contract's own state
 * (descriptor CID), so a false entry shows up as one.
 */
export class ServiceRegistry extends SmartContract {
  override readonly events = { Published: ServicePublishedEvent, Retired: ServiceRetiredEvent }

  override async deploy(props?: DeployArgs) {
    await super.deploy(props)
    this.account.permissions.set({
      ...Permissions.default(),
      setVerificationKey: Permissions.VerificationKey.impossibleDuringCurrentVersion(),
      setPermissions: Permissions.impossible(),
      editState: Permissions.impossible(),
    })
  }

  /** Lists `service` under `operator` (who signs). */
  @method
  async publish(
    service: PublicKey,
    operator: PublicKey,
    descriptorCid0: Field,
    descriptorCid1: Field,
  ) {
    descriptorCid0.equals(0).and(descriptorCid1.equals(0)).assertFalse(RegistryErrors.emptyCid)
    const signer = AccountUpdate.createSigned(operator)
    signer.body.useFullCommitment = Bool(true)
    this.emitEvent(
      'Published',
      new ServicePublishedEvent({ service, operator, descriptorCid0, descriptorCid1 }),
    )
  }

  /** Marks `service` as retired by `operator` (who signs); the page hides retired versions. */
  @method
  async retire(service: PublicKey, operator: PublicKey) {
    const signer = AccountUpdate.createSigned(operator)
    signer.body.useFullCommitment = Bool(true)
    this.emitEvent('Retired', new ServiceRetiredEvent({ service, operator }))
  }
}

import {
  DeployArgs,
  Field,
  method,
  Permissions,
  Poseidon,
  PublicKey,
  Signature,
  SmartContract,
  State,
  Struct,
  state,
  UInt32,
  UInt64,
} from 'o1js'
import { SLOT_WINDOW } from '../protocol/chain-layout.ts'
import {
  HEARTBEAT_DOMAIN,
  priceInBounds,
  RESULT_LEAF_DOMAIN,
  withdrawTimelockInBounds,
} from '../protocol/index.ts'
import { ServiceErrors } from './errors.ts'
import { Heartbeat, Terms } from './packing.ts'
import { RESULTS_TREE_LEAVES, ResultWitness } from './results-tree.ts'
import { HeartbeatEvent } from './service-events.ts'

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
  /**
   * The service's ChannelLedger (deployed with the same price, timelock and runner), where
   * deposits, channels and settlements live. Its key must have an even y: the state keeps its x
   * only, and readers derive the address from it (`ledgerAddressOf` in protocol).
   */
  ledger: PublicKey
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
    access: Permissions.proof(),
  }
}

/**
 * One version of one service: what it runs (source commitment, descriptor), its terms, its
 * runner and Worker keys, its runner's heartbeat, and the binding to its ChannelLedger, which
 * holds the money (deposits, settlements, withdrawals: see channel-ledger.ts). The service
 * itself holds no credits and has no method that moves any.
 */
export class ServiceContract extends SmartContract {
  @state(Field) sourceCommitment = State<Field>()
  @state(Field) descriptorCid0 = State<Field>()
  @state(Field) descriptorCid1 = State<Field>()
  @state(Field) terms = State<Field>()
  @state(Field) runnerKeyHash = State<Field>()
  @state(Field) workerKeyHash = State<Field>()
  /** x of the ledger's address (its y is even): see ServiceDeployProps.ledger. */
  @state(Field) ledger = State<Field>()
  @state(Field) heartbeatState = State<Field>()

  override readonly events = { Heartbeat: HeartbeatEvent }

  override async deploy(props: ServiceDeployProps) {
    // A timelock of 0 leaves the runner no time to settle; one near 2^32 overflows the unlock slot.
    if (!withdrawTimelockInBounds(props.withdrawTimelockSlots.toBigint()))
      throw new Error(ServiceErrors.timelockOutOfBounds)
    if (!priceInBounds(props.pricePerJob.toBigInt()))
      throw new Error(ServiceErrors.priceOutOfBounds)
    // Only x is kept: a key with an odd y would name another address than the ledger's.
    if (props.ledger.isOdd.toBoolean()) throw new Error(ServiceErrors.ledgerKeyOdd)
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
    this.ledger.set(props.ledger.x)
    this.heartbeatState.set(Field(0))
    this.account.permissions.set(frozenServicePermissions())
  }

  /** Records that the runner was alive at `slot` (a recent slot it signed). */
  @method
  async heartbeat(runner: PublicKey, slot: UInt32, signature: Signature) {
    Poseidon.hash(runner.toFields()).assertEquals(
      this.runnerKeyHash.getAndRequireEquals(),
      ServiceErrors.notRunner,
    )
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
}

/**
 * Proves the claimed tree holds `resultsCount` leaves, the last one a result of `service` and
 * `user` (see SettleClaim): the leaf at `count - 1` is theirs and the leaf at `count` is empty
 * (unless the tree is full). Shared by every method that accepts a settlement claim.
 */
export function requireResultsCount(
  service: PublicKey,
  user: PublicKey,
  claim: SettleClaim,
  lastWitness: ResultWitness,
  nextWitness: ResultWitness,
) {
  const count = claim.resultsCount.value
  count.assertLessThanOrEqual(Field(RESULTS_TREE_LEAVES), ServiceErrors.resultsNotProved)
  const lastLeaf = Poseidon.hash([
    Field(RESULT_LEAF_DOMAIN),
    ...service.toFields(),
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

import {
  AccountUpdate,
  declareMethods,
  declareState,
  Field,
  fetchAccount,
  Mina,
  PrivateKey,
  type Provable,
  PublicKey,
  Reducer,
  SmartContract,
  State,
  UInt64,
} from 'o1js'

// A tiny zkApp for the chain's tests: one state field, an event and an action per call.
// Declared without decorators (declareState/declareMethods) because esbuild, which runs the
// tests, does not emit the decorator metadata that `@method` reads.

/** The test contract. */
export class Counter extends SmartContract {
  count = State<Field>()
  override events = { bumped: Field }
  reducer = Reducer({ actionType: Field })

  /** Adds `by` to the count, emitting it as an event and an action. */
  async bump(by: Field) {
    const count = this.count.getAndRequireEquals()
    this.count.set(count.add(by))
    this.emitEvent('bumped', by)
    this.reducer.dispatch(by)
  }
}
declareState(Counter, { count: Field })
declareMethods(Counter, { bump: [Field as unknown as Provable<unknown>] })

/** What a scenario run observed, in plain values that compare across instances. */
export interface ScenarioResult {
  count: string
  events: { type: string; data: string }[]
  actions: string[][][]
  actionHashes: string[]
  reducerActions: string[]
  failedCallRejected: boolean
}

/** Options of a scenario run. */
export interface ScenarioOptions {
  senderKey: PrivateKey
  zkappKey: PrivateKey
  /** True when the active instance is a Mina.Network (accounts must be fetched). */
  network: boolean
  fee?: number
}

async function refresh(address: PublicKey, network: boolean) {
  if (network) {
    const { error } = await fetchAccount({ publicKey: address })
    if (error) throw new Error(`fetchAccount failed: ${error.statusText}`)
  }
}

/**
 * Deploys a Counter, bumps it twice, tries a bump with a stale precondition, and reads back
 * state, events and actions, with the same o1js calls on any active instance.
 */
export async function runCounterScenario(opts: ScenarioOptions): Promise<ScenarioResult> {
  const { senderKey, zkappKey, network } = opts
  const fee = opts.fee ?? 10_000_000
  const sender = senderKey.toPublicKey()
  const zkapp = new Counter(zkappKey.toPublicKey())

  await refresh(sender, network)
  const deploy = await Mina.transaction({ sender, fee }, async () => {
    AccountUpdate.fundNewAccount(sender)
    await zkapp.deploy()
  })
  await deploy.prove()
  await (await deploy.sign([senderKey, zkappKey]).send()).wait()

  for (const by of [3, 4]) {
    await refresh(zkapp.address, network)
    await refresh(sender, network)
    const tx = await Mina.transaction({ sender, fee }, async () => {
      await zkapp.bump(Field(by))
    })
    await tx.prove()
    await (await tx.sign([senderKey]).send()).wait()
  }

  // A command whose precondition fails: a node includes it as failed (fee charged), and the
  // client sees it rejected.
  await refresh(sender, network)
  const failing = await Mina.transaction({ sender, fee }, async () => {
    AccountUpdate.create(zkapp.address).account.balance.requireEquals(UInt64.from(123_456_789))
  })
  await failing.prove()
  const sent = await failing.sign([senderKey]).safeSend()
  const outcome = sent.status === 'rejected' ? sent : await sent.safeWait()
  const failedCallRejected = outcome.status === 'rejected'

  await refresh(zkapp.address, network)
  const count = zkapp.count.get().toString()
  const events = (await zkapp.fetchEvents()).map((e) => ({
    type: e.type,
    data: (e.event.data as unknown as Field).toString(),
  }))
  const fetched = await Mina.fetchActions(zkapp.address)
  if (!Array.isArray(fetched)) throw new Error(`fetchActions failed: ${fetched.error.statusText}`)
  const reducerActions = (
    await zkapp.reducer.fetchActions({ fromActionState: Reducer.initialActionState })
  ).flatMap((group) => group.map((a) => a.toString()))
  return {
    count,
    events,
    actions: fetched.map((a) => a.actions),
    actionHashes: fetched.map((a) => a.hash),
    reducerActions,
    failedCallRejected,
  }
}

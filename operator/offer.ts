// `offer`: from a descriptor file to a live, listed service. Each step first asks the system
// that holds its outcome (the IPFS store, the chain and the deploy alias, the Worker) whether it
// is already done, so a re-run after any failure continues where the last one stopped and never
// deploys a second contract for one descriptor.

/** The steps of an offer, each idempotent; the real ones live in cli.ts, tests pass fakes. */
export interface OfferSteps {
  /** Pins the descriptor in the runner's store; returns its CID (computed, not read). */
  pin(): Promise<string>
  /** The service address if this descriptor's version is deployed, frozen and published. */
  deployed(cid: string): Promise<string | undefined>
  /** Deploys and freezes the version and publishes it in the registry; returns its address. */
  deploy(cid: string): Promise<string>
  /** Sends a runner heartbeat unless the chain already has one at the current slot. */
  heartbeat(service: string): Promise<void>
  /** True when the Worker holds this service under this descriptor CID. */
  registered(service: string, cid: string): Promise<boolean>
  /** Seals the provider credentials and registers the version with the Worker. */
  register(service: string, cid: string): Promise<void>
}

/** What an offer did. */
export interface OfferOutcome {
  cid: string
  service: string
  /** The steps this run performed (the others were already done). */
  performed: ('pin' | 'deploy' | 'heartbeat' | 'register')[]
}

/** Runs the offer's steps in order, skipping what is already done. */
export async function offer(steps: OfferSteps, log: (line: string) => void): Promise<OfferOutcome> {
  const performed: OfferOutcome['performed'] = []
  // Pinning is cheap and idempotent, so it always runs: the store may have been wiped.
  const cid = await steps.pin()
  performed.push('pin')
  log(`descriptor pinned: ${cid}`)
  let service = await steps.deployed(cid)
  if (service) {
    log(`already deployed and published: ${service}`)
  } else {
    service = await steps.deploy(cid)
    performed.push('deploy')
    log(`deployed, frozen and published: ${service}`)
  }
  // The heartbeat comes before the registration: the Worker lists a version as live only with a
  // fresh heartbeat, and a registration check may ask for one.
  await steps.heartbeat(service)
  performed.push('heartbeat')
  log('runner heartbeat on chain')
  if (await steps.registered(service, cid)) {
    log('already registered with the Worker')
  } else {
    await steps.register(service, cid)
    performed.push('register')
    log('registered with the Worker')
  }
  return { cid, service, performed }
}

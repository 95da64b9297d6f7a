// `retire`: the reverse of `offer` for one service version. The Worker stops admitting jobs first
// (what users feel at once), then the registry withdraws the listing (what the page reads). Each
// step first asks the system holding its outcome whether it is done, so a re-run after a failure
// finishes the job and sends no second transaction.

/** The steps of a retirement, each idempotent; the real ones live in cli.ts, tests pass fakes. */
export interface RetireSteps {
  /** True when the Worker already refuses new jobs for the service as retired. */
  retiredAtWorker(service: string): Promise<boolean>
  /** Signs a retirement with the runner key and sends it to the Worker. */
  retireAtWorker(service: string): Promise<void>
  /** True when the registry already lists the service's retirement by this operator. */
  retiredInRegistry(service: string): Promise<boolean>
  /** Sends the registry's retire transaction, signed by the runner (operator) key. */
  retireInRegistry(service: string): Promise<void>
}

/** What a retirement did. */
export interface RetireOutcome {
  service: string
  /** The steps this run performed (the others were already done). */
  performed: ('worker' | 'registry')[]
}

/** Runs the retirement's steps in order, skipping what is already done. */
export async function retire(
  service: string,
  steps: RetireSteps,
  log: (line: string) => void,
): Promise<RetireOutcome> {
  const performed: RetireOutcome['performed'] = []
  if (await steps.retiredAtWorker(service)) {
    log('already retired at the Worker')
  } else {
    await steps.retireAtWorker(service)
    performed.push('worker')
    log('retired at the Worker: it admits no new job (jobs already admitted finish)')
  }
  if (await steps.retiredInRegistry(service)) {
    log('already withdrawn from the registry')
  } else {
    await steps.retireInRegistry(service)
    performed.push('registry')
    log('withdrawn from the registry: the page no longer lists it')
  }
  return { service, performed }
}

import {
  ActionKind,
  EMPTY_ACTION_STATE,
  generateMinaKeyPair,
  type HpkeKeyPair,
  nextActionState,
  publicKeyToFields,
  unwrap,
} from '../protocol/index.ts'
import { TEST_CREDIT_TOKEN_ID } from '../worker/test-support/constants.ts'
import { fixtureLedgerAddress, genuineLedgerVault } from '../worker/test-support/ledger-fixture.ts'
import { cpuNs, fixed, median } from './worker-measure.ts'
import { jobBodies, type Post, registerService, type Standins } from './worker-setup.ts'

// Admission against a ledger of many actions: the first admission of a service's Durable Object
// reads and hashes every action of its ledger; each later one only the actions landed since (the
// kept reading, worker/ledger-follower.ts). Both measured as workerd's CPU around one request, in
// the same run, on ledgers of LEDGER_ACTIONS actions (a stranger's one-credit deposits).

const LEDGER_ACTIONS = Number(process.env.BENCH_LEDGER_ACTIONS ?? 5000)
const SERVICES = Number(process.env.BENCH_LEDGER_SERVICES ?? 3)
const INCREMENTS = Number(process.env.BENCH_LEDGER_INCREMENTS ?? 20)

const ms = (ns: number, d = 2) => Number((ns / 1e6).toFixed(d))

/** First-read and incremental admission CPU on ledgers of LEDGER_ACTIONS actions. */
export async function runLedgerAdmission(
  post: Post,
  standins: Standins,
  hpke: HpkeKeyPair,
  pids: number[],
): Promise<Record<string, number | string>> {
  const { mina } = standins
  // The same stranger deposits in every ledger: one hashing of their action states here.
  const stranger = unwrap(publicKeyToFields(generateMinaKeyPair().publicKey))
  const deposit = [BigInt(ActionKind.deposit), stranger[0], stranger[1], 1n, 0n, 0n, 0n, 0n]
  const states: bigint[] = []
  let state = EMPTY_ACTION_STATE
  for (let i = 0; i < LEDGER_ACTIONS - 1; i++) {
    state = nextActionState(state, [deposit])
    states.push(state)
  }
  const first: number[] = []
  const next: number[] = []
  const listedFirst: number[] = []
  const listedNext: number[] = []
  const timed = async (body: string) => {
    const before = cpuNs(pids)
    const res = await post('/v1/jobs', body)
    const text = await res.text()
    const spent = cpuNs(pids) - before
    if (res.status !== 202)
      throw new Error(`ledger bench: expected 202, got ${res.status}: ${text}`)
    return spent
  }
  for (let s = 0; s < SERVICES; s++) {
    const service = await registerService(post, mina, hpke)
    const ledger = fixtureLedgerAddress(service.address)
    for (const st of states) mina.dispatch(ledger, { data: deposit.map(String), state: String(st) })
    service.actionState = states.at(-1) ?? service.actionState
    // Every deposit credits the vault (the Worker refuses a ledger that owes more than it holds);
    // jobBodies writes the vault with the user's deposit added.
    service.escrow += BigInt(states.length)
    // One user, whose deposit is the ledger's last action before the first admission.
    const bodies = (await jobBodies(mina, hpke, service, 1, INCREMENTS + 1)).flat()
    let listed = mina.archiveListed(ledger)
    first.push(await timed(bodies[0]!))
    listedFirst.push(mina.archiveListed(ledger) - listed)
    for (const body of bodies.slice(1)) {
      // One more action lands between admissions.
      service.actionState = nextActionState(service.actionState, [deposit])
      mina.dispatch(ledger, { data: deposit.map(String), state: String(service.actionState) })
      service.escrow += 1n
      mina.setAccount(ledger, genuineLedgerVault(String(service.escrow)), TEST_CREDIT_TOKEN_ID)
      listed = mina.archiveListed(ledger)
      next.push(await timed(body))
      listedNext.push(mina.archiveListed(ledger) - listed)
    }
  }
  const firstMs = median(first)
  const nextMs = median(next)
  return {
    'ledger: actions in each ledger before the first admission': LEDGER_ACTIONS,
    'ledger: services (first reads) measured': first.length,
    'ledger: admissions measured after one more action landed': next.length,
    'ledger: first admission, archive actions listed and hashed (median)': median(listedFirst),
    'ledger: later admission, archive actions listed and hashed (median)': median(listedNext),
    'ledger: first admission workerd CPU ms (whole request), median': ms(firstMs),
    'ledger: later admission workerd CPU ms (whole request), median': ms(nextMs),
    'ledger: first / later admission CPU (x)': fixed(firstMs / nextMs),
  }
}

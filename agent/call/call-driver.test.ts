import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type Envelope,
  generateHpkeKeyPair,
  generateMinaKeyPair,
  type HpkeKeyPair,
  JOB_REQUEST_INFO,
  type JobSubmission,
  openJson,
  parseJobSubmission,
  requestDigest,
  unwrap,
  type Voucher,
  validateParameters,
} from '../../protocol/index.ts'
import { devKeyWallet } from '../../static-site/src/wallet/dev-key.ts'
import type { WorkerJob } from '../../static-site/src/worker-client.ts'
import { verifyResult } from '../../verify/index.ts'
import {
  type BundleVariant,
  bundleFixture,
  type ServiceFixture,
  serviceFixture,
} from '../../verify/test-support/bundle-fixture.ts'
import { genuineAccounts, nodePoseidon, TEST_GENUINE } from '../../verify/test-support/genuine.ts'
import { emptyBook } from '../../verify/test-support/ledger-double.ts'
import { memoryBundleReader } from '../../verify/test-support/memory-bundle-reader.ts'
import { AgentErrorCode } from '../errors.ts'
import { CallGrants } from '../signer/call-grants.ts'
import { signerCall } from '../signer/signer-call.ts'
import { type CallBudget, fileCallLedger } from './call-budget.ts'
import { type CallDeps, callDriver, type OuterJob } from './call-driver.ts'

// The outer runner calls a driver service as an ordinary user: against a Worker double that
// opens the sealed request with its real HPKE key and answers with a real bundle (Helia's UnixFS
// in memory), verified by the shared verifier with o1js Poseidon.

const PRICE = 5n
const outer: OuterJob = { jobId: 'aa'.repeat(16), service: generateMinaKeyPair().publicKey }

/** A Worker that admits what it is sent and answers each job with a bundle of `variant`. */
class WorkerDouble {
  readonly submissions: JobSubmission[] = []
  variant: BundleVariant = 'good'
  /** How many reads of a job answer it still running (then it has its result), and how many came. */
  runningReads = 0
  reads = 0
  /** What its status answers as the caller's funding (any shape: it is untrusted). */
  funding: { owed?: string; voucher?: unknown } = {}
  readonly #bundles = new Map<string, string>()
  constructor(
    readonly key: HpkeKeyPair,
    readonly blocks: MemoryBlockstore,
    readonly service: ServiceFixture,
  ) {}
  async service_(_address: string) {
    return { chain: { funding: this.funding } }
  }
  async submit(envelope: Envelope) {
    const submission = unwrap(
      parseJobSubmission(unwrap(await openJson([this.key], envelope, JOB_REQUEST_INFO))),
    )
    this.submissions.push(submission)
    const { request, voucher } = submission
    this.funding = { owed: voucher.cumulativeAmount, voucher }
    const parameters = unwrap(
      validateParameters(this.service.descriptor.parameters, request.parameters),
    )
    const binding = {
      requestId: request.requestId,
      service: request.service,
      user: request.user,
      parameters,
      ...(request.callPath ? { callPath: request.callPath } : {}),
    }
    const bundle = await bundleFixture(
      this.blocks,
      this.service,
      request.requestId,
      this.variant,
      binding,
    )
    this.#bundles.set(request.requestId, bundle.cid.toString())
    return { jobId: request.requestId }
  }
  async job(jobId: string): Promise<WorkerJob> {
    const bundleCid = this.#bundles.get(jobId)
    if (!bundleCid) throw new Error(`no job ${jobId}`)
    this.reads++
    const running = this.reads <= this.runningReads
    return {
      jobId,
      service: this.service.address,
      user: '',
      status: running ? 'running' : 'success',
      createdAt: '',
      updatedAt: '',
      pipeline: null,
      history: [],
      result: running ? null : ({ bundleCid } as WorkerJob['result']),
    }
  }
}

let dataDir: string
let outDir: string
let blocks: MemoryBlockstore
let driver: ServiceFixture
let worker: WorkerDouble
let signatures: number

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'zkrunner-call-'))
  outDir = join(dataDir, 'out')
  blocks = new MemoryBlockstore()
  const key = await generateHpkeKeyPair()
  driver = await serviceFixture(blocks, {
    workerPublicKey: key.publicKey,
    price: PRICE,
    parameters: [{ name: 'OPT', type: 'enum', values: ['O0', 'O2'], required: true }],
  })
  worker = new WorkerDouble(key, blocks, driver)
  signatures = 0
})
afterEach(() => rm(dataDir, { recursive: true, force: true }))

function deps(budget: CallBudget = { perJob: 100n, perService: 1000n }): CallDeps {
  const reader = memoryBundleReader(blocks)
  const wallet = devKeyWallet(driver.user.privateKey)
  return {
    worker: {
      service: (a) => worker.service_(a),
      submit: (e) => worker.submit(e),
      job: (id) => worker.job(id),
    },
    chain: { zkappState: async () => driver.state, events: async () => [], ledgerBook: emptyBook },
    readDescriptor: (cid) => reader.readCid(cid),
    // Counts every signature the caller's key makes: a voucher beyond the budget is never one.
    wallet: {
      ...wallet,
      publicKey: wallet.publicKey,
      signFields: (fields) => {
        signatures++
        return wallet.signFields(fields)
      },
    },
    poseidon: nodePoseidon,
    budget,
    ledger: fileCallLedger(dataDir),
    verify: (target) =>
      verifyResult(target, {
        bundle: reader,
        chain: {
          serviceAccounts: async () => genuineAccounts(driver.state),
          events: async () => [],
          ledgerBook: emptyBook,
        },
        genuine: TEST_GENUINE,
        poseidon: nodePoseidon,
      }),
    nextPoll: async () => {},
  }
}

const call = (d: CallDeps, opts: { outer?: OuterJob; values?: Record<string, string> } = {}) =>
  callDriver(
    {
      driver: driver.address,
      values: opts.values ?? { OPT: 'O2' },
      outer: opts.outer ?? outer,
      wait: true,
      outDir,
    },
    d,
  )

describe('zkrunner-agent call: the outer runner as a user of the driver', () => {
  it('signs one price, seals the request with its call path, verifies the bundle and writes what it checked', async () => {
    const result = await call(deps())
    const [sent] = worker.submissions
    expect(sent?.request.callPath).toEqual([outer.service])
    expect(sent?.voucher.cumulativeAmount).toBe(String(PRICE))
    // The request digest the runner signed binds the call path, and the verifier held it to it.
    expect(requestDigest(result.request)).not.toBe(
      requestDigest({ ...result.request, callPath: [] }),
    )
    expect(result.result?.bundleCid).toMatch(/^bafy/)
    expect(result.result?.manifestDigest).toMatch(/^[0-9a-f]{64}$/)
    expect(await readFile(join(outDir, 'files', 'stdout.log'), 'utf8')).toContain(
      'ok 1 - test case 1',
    )
    // The next call signs what the caller's own latest voucher proves, plus one price.
    const second = await call(deps())
    expect(worker.submissions[1]?.voucher.cumulativeAmount).toBe(String(2n * PRICE))
    // Both verified results are recorded, in call order, for the outer job's signed manifest.
    expect(await fileCallLedger(dataDir).innerJobs(outer.jobId)).toEqual(
      [result, second].map((r) => ({
        service: driver.address,
        jobId: r.jobId,
        bundleCid: r.result?.bundleCid,
        manifestDigest: r.result?.manifestDigest,
      })),
    )
  })

  it('signs by the proven-owed rule: an inflated owed with no voucher of ours is not signed for', async () => {
    worker.funding = { owed: '1000' }
    await call(deps())
    expect(worker.submissions[0]?.voucher.cumulativeAmount).toBe(String(PRICE))
    // A voucher the Worker made up (not signed by our key) proves nothing either.
    const first = worker.submissions[0]?.voucher as Voucher
    const forged: Voucher = { ...first, cumulativeAmount: '900' }
    worker.funding = { owed: '900', voucher: forged }
    await call(deps())
    // Proven: only what was settled (nothing) plus one price; an honest Worker would refuse it
    // as insufficient rather than the runner overpay.
    expect(worker.submissions[1]?.voucher.cumulativeAmount).toBe(String(PRICE))
  })

  it('signs no voucher beyond the job budget: CALL_BUDGET_EXHAUSTED, nothing sealed', async () => {
    const d = deps({ perJob: 2n * PRICE, perService: 1000n })
    await call(d)
    await call(d)
    const before = signatures
    await expect(call(d)).rejects.toMatchObject({ code: AgentErrorCode.CALL_BUDGET_EXHAUSTED })
    expect(signatures).toBe(before)
    expect(worker.submissions).toHaveLength(2)
    // Another outer job has its own budget.
    await call(d, { outer: { ...outer, jobId: 'bb'.repeat(16) } })
    expect(worker.submissions).toHaveLength(3)
  })

  it('signs no voucher owing one driver more than the per-service budget', async () => {
    const d = deps({ perJob: 100n, perService: PRICE + 1n })
    await call(d)
    const before = signatures
    await expect(call(d)).rejects.toMatchObject({ code: AgentErrorCode.CALL_BUDGET_EXHAUSTED })
    expect(signatures).toBe(before)
    expect(worker.submissions).toHaveLength(1)
  })

  it('refuses a tampered inner bundle naming the broken link, and writes none of it', async () => {
    worker.variant = 'tampered-file'
    const error = await call(deps()).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: AgentErrorCode.CALL_UNVERIFIED })
    expect((error as Error).message).toContain('link "files" broken')
    await expect(stat(join(outDir, 'files'))).rejects.toThrow()
    // Signed for (it counts against the budget), but never listed as a result the job used.
    expect(await fileCallLedger(dataDir).spent(outer.jobId)).toBe(PRICE)
    expect(await fileCallLedger(dataDir).innerJobs(outer.jobId)).toEqual([])
  })

  it('refuses a result signed by another key, naming the signature link', async () => {
    worker.variant = 'wrong-signature'
    const error = await call(deps()).catch((e: unknown) => e)
    expect((error as Error).message).toContain('link "signature" broken')
  })

  it('fails with the inner reason when the driver job did not run to an end', async () => {
    worker.variant = 'agent-lost'
    const error = await call(deps()).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: AgentErrorCode.CALL_FAILED })
    expect((error as Error).message).toContain('agent-lost')
  })

  it('refuses depth 5 and a cycle before signing anything', async () => {
    const deep = { ...outer, callPath: [1, 2, 3].map(() => generateMinaKeyPair().publicKey) }
    await expect(call(deps(), { outer: deep })).rejects.toMatchObject({
      code: AgentErrorCode.CALL_REFUSED,
      message: expect.stringContaining('call-too-deep'),
    })
    const cycle = { ...outer, callPath: [driver.address] }
    await expect(call(deps(), { outer: cycle })).rejects.toMatchObject({
      message: expect.stringContaining('call-cycle'),
    })
    expect(signatures).toBe(0)
    expect(worker.submissions).toHaveLength(0)
  })
})

describe('zkrunner-agent call: the Worker key the driver contract froze', () => {
  it("seals nothing and signs nothing when the descriptor's Worker key is not the one the contract froze (as the page refuses)", async () => {
    const other = await generateHpkeKeyPair()
    const d = deps()
    const state = [...driver.state]
    // The contract froze another Worker key's hash than the descriptor names.
    const stranger = await serviceFixture(new MemoryBlockstore(), {
      workerPublicKey: other.publicKey,
    })
    state[5] = stranger.state[5]!
    d.chain = { ...d.chain, zkappState: async () => state }
    await expect(call(d)).rejects.toMatchObject({ code: AgentErrorCode.CALL_REFUSED })
    expect(signatures).toBe(0)
    expect(worker.submissions).toHaveLength(0)
  })
})

// Attack (review of job scopes, issue 14, low): a job starts a waited call, then ends. The call
// went on after it: the signer (or the custom executor's agent) kept waiting for the driver's
// result and would record it for a job whose manifest is already signed.
describe('zkrunner-agent call through the signer: the end of the calling job', () => {
  it("aborts the job's call in flight: the submitted driver job (paid once) is no longer awaited, nothing more is signed or sent, no result is handed on", async () => {
    const grants = new CallGrants()
    const token = grants.grant(outer)
    // The driver job runs on for three reads; the calling job ends during the first wait.
    worker.runningReads = 3
    const d = deps()
    let polls = 0
    const pending = signerCall(
      { v: 1, op: 'call', token, driver: driver.address, params: ['OPT=O2'], wait: true },
      grants,
      (o, opts) =>
        callDriver(
          { driver: driver.address, values: { OPT: 'O2' }, outer: o, wait: opts.wait, outDir },
          {
            ...d,
            ...(opts.signal ? { signal: opts.signal } : {}),
            nextPoll: async () => {
              polls++
              if (polls === 1) grants.revoke(token)
            },
          },
        ),
    )
    await expect(pending).rejects.toMatchObject({
      code: AgentErrorCode.CALL_REFUSED,
      message: expect.stringContaining('calling job has ended'),
    })
    // One Worker request, one voucher signed and reserved; the wait stopped at the abort.
    expect(worker.submissions).toHaveLength(1)
    expect(worker.reads).toBe(1)
    expect(polls).toBe(1)
    expect(await fileCallLedger(dataDir).spent(outer.jobId)).toBe(PRICE)
    expect(await fileCallLedger(dataDir).innerJobs(outer.jobId)).toEqual([])
    const signed = signatures
    // The token is void: a new call of the ended job signs nothing.
    await expect(
      signerCall(
        { v: 1, op: 'call', token, driver: driver.address, params: ['OPT=O2'], wait: false },
        grants,
        (o, opts) =>
          callDriver(
            { driver: driver.address, values: { OPT: 'O2' }, outer: o, wait: opts.wait, outDir },
            d,
          ),
      ),
    ).rejects.toMatchObject({ code: AgentErrorCode.CALL_REFUSED })
    expect(signatures).toBe(signed)
    expect(worker.submissions).toHaveLength(1)
  })
})

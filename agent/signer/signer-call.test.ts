import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { newRequestId } from '../../protocol/index.ts'
import { fileCallLedger } from '../call/call-budget.ts'
import type { CallResult, OuterJob } from '../call/call-driver.ts'
import { AgentErrorCode } from '../errors.ts'
import { CallGrants } from './call-grants.ts'
import { type MakeCall, signerCall } from './signer-call.ts'
import type { SignerCallRequest } from './signer-protocol.ts'

// A driver call asked of the signer: the job is known by the token the signer gave it, never by
// what it says; the call spends from the signer's ledger within the signer's budget.

const PRICE = 5n
const outer: OuterJob = { jobId: 'aa'.repeat(16), service: 'B62qouter' }
let dataDir: string
let signed: { outer: OuterJob; driver: string }[]

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'zkrunner-signer-call-test-'))
  signed = []
})
afterEach(() => rm(dataDir, { recursive: true, force: true }))

/**
 * The signer's call as callFor makes it, up to the voucher: the real ledger in the signer's data
 * dir reserves one price within the budget before anything is signed (counted in `signed`), and a
 * waited call writes its verified files into the directory the signer gave it.
 */
const make =
  (perJob: bigint): MakeCall =>
  async (o, opts) => {
    const requestId = newRequestId()
    const spent = await fileCallLedger(dataDir).spent(o.jobId)
    await fileCallLedger(dataDir).reserve(
      o.jobId,
      { requestId, price: PRICE, cumulativeAmount: spent + PRICE },
      { perJob, perService: 1000n },
      async () => {
        signed.push({ outer: o, driver: opts.driver })
      },
    )
    const result: CallResult = {
      jobId: requestId,
      request: {} as CallResult['request'],
      cumulativeAmount: String(spent + PRICE),
    }
    if (!opts.wait) return result
    await mkdir(join(opts.out!, 'files'), { recursive: true })
    await writeFile(join(opts.out!, 'files', 'stdout.log'), 'inner output\n')
    await writeFile(join(opts.out!, 'outputs.json'), '{"speed":2}\n')
    return {
      ...result,
      result: { bundleCid: 'bafyinner', manifestDigest: 'd'.repeat(64), exitCode: 0, outDir: '' },
    }
  }

const ask = (token: string, wait = false): SignerCallRequest => ({
  v: 1,
  op: 'call',
  token,
  driver: 'B62qdriver',
  params: ['OPT=O2'],
  wait,
})

describe('driver calls through the signer', () => {
  it("spends for the job the token was granted to, within the signer's budget: one call too many is refused and nothing is signed", async () => {
    const grants = new CallGrants()
    const token = grants.grant(outer)
    const first = await signerCall(ask(token), grants, make(PRICE))
    expect(first.call.cumulativeAmount).toBe(String(PRICE))
    await expect(signerCall(ask(token), grants, make(PRICE))).rejects.toMatchObject({
      code: AgentErrorCode.CALL_BUDGET_EXHAUSTED,
    })
    expect(signed).toEqual([{ outer, driver: 'B62qdriver' }])
    expect(await fileCallLedger(dataDir).spent(outer.jobId)).toBe(PRICE)
  })

  it('refuses a token no running job holds: made up, or of a job that has ended', async () => {
    const grants = new CallGrants()
    const token = grants.grant(outer)
    await expect(signerCall(ask('0'.repeat(64)), grants, make(100n))).rejects.toMatchObject({
      code: AgentErrorCode.CALL_REFUSED,
    })
    grants.revoke(token)
    await expect(signerCall(ask(token), grants, make(100n))).rejects.toMatchObject({
      code: AgentErrorCode.CALL_REFUSED,
    })
    expect(signed).toEqual([])
  })

  it('a waited call hands back the verified files as bytes and keeps no directory of its own', async () => {
    const grants = new CallGrants()
    const { call, files } = await signerCall(ask(grants.grant(outer), true), grants, make(100n))
    expect(call.result?.bundleCid).toBe('bafyinner')
    expect(
      files.map((f) => [f.path, f.bytes.toString()]).sort((a, b) => a[0]!.localeCompare(b[0]!)),
    ).toEqual([
      ['files/stdout.log', 'inner output\n'],
      ['outputs.json', '{"speed":2}\n'],
    ])
  })
})

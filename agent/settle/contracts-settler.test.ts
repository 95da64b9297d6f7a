import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Helia } from 'helia'
import { Field, Mina, PrivateKey, PublicKey, UInt32, UInt64 } from 'o1js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ChannelLedger,
  deployCreditToken,
  deployService,
  deposit,
  ledgerOf,
  mintCredits,
  readCredits,
  resultsRoot,
} from '../../contracts/index.ts'
import {
  fieldsToCid,
  fromHex,
  type MinaKeyPair,
  parseSettledLeaves,
  signSponsorshipGrant,
  signVoucher,
  toHex,
  unwrap,
  type Voucher,
} from '../../protocol/index.ts'
import { openIpfsNode } from '../ipfs/node.ts'
import { advanceJob } from '../pipeline/advance-job.ts'
import { startJob } from '../pipeline/start-job.ts'
import { Spool } from '../spool/spool.ts'
import { openContractsSettler } from './contracts-settler.ts'
import { settleQueued } from './settle-queue.ts'
import type { Settler } from './settler.ts'

// The real Settler against an o1js LocalBlockchain (proofs off): user deposits through the
// contracts client, the agent runs jobs, and settle pays the runner through the service vault.

const PRICE = 25n
const quiet = { write: () => true } as never
const acknowledge = (async () => new Response('{}', { status: 202 })) as typeof fetch

let dir: string
let helia: Helia
let spool: Spool
let settler: Settler
let runner: MinaKeyPair
let userKey: PrivateKey
let service: PrivateKey
let payer: { key: PrivateKey }
let adminKey: PrivateKey
let secondUser: PrivateKey

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-settle-'))
  helia = await openIpfsNode({ dataDir: dir })
  spool = new Spool(dir)
  const local = await Mina.LocalBlockchain({ proofsEnabled: false })
  Mina.setActiveInstance(local)
  const [deployer, runnerAccount, user, admin, second] = local.testAccounts
  payer = { key: deployer!.key }
  adminKey = admin!.key
  secondUser = second!.key
  // The runner key is a funded account: it pays its own settlement fees (the default).
  runner = { privateKey: runnerAccount!.key.toBase58(), publicKey: runnerAccount!.toBase58() }
  userKey = user!.key
  const tokenKey = PrivateKey.random()
  await deployCreditToken(payer, {
    tokenKey,
    adminContractKey: PrivateKey.random(),
    admin: admin!,
    symbol: 'CRED',
    decimals: 0,
    src: 'https://example.invalid/credit-token.ts',
  })
  await mintCredits(payer, admin!.key, user!, 1_000n)
  service = PrivateKey.random()
  let ledgerKey = PrivateKey.random()
  while (ledgerKey.toPublicKey().isOdd.toBoolean()) ledgerKey = PrivateKey.random()
  await deployService(payer, service, ledgerKey, {
    sourceCommitment: Field(0xc0ffeen),
    descriptorCid: [Field(1), Field(2)],
    pricePerJob: UInt64.from(PRICE),
    withdrawTimelockSlots: UInt32.from(100),
    runner: runnerAccount!,
    workerKeyHash: Field(42),
  })
  await deposit(payer, service.toPublicKey(), userKey, user!, 500n)
  settler = await openContractsSettler({
    runner,
    creditToken: tokenKey.toPublicKey().toBase58(),
    network: local,
    cacheDir: join(dir, 'o1js-cache'),
    ipfs: helia,
  })
}, 600_000)

afterAll(async () => {
  await helia?.stop()
  await rm(dir, { recursive: true, force: true })
})

/**
 * Runs a tiny job of `user` (the first user by default) whose voucher owes `jobs` × price in
 * total, through to the settlement queue.
 */
async function runPaidJob(jobs: bigint, user: PrivateKey = userKey): Promise<string> {
  const jobId = randomBytes(16).toString('hex')
  const voucher = signVoucher(
    {
      v: 1,
      user: user.toPublicKey().toBase58(),
      service: service.toPublicKey().toBase58(),
      cumulativeAmount: String(jobs * PRICE),
      nonce: String(jobs),
    },
    user.toBase58(),
  )
  await startJob({
    spool,
    config: { intervalMs: 50, perf: 'off', cgroup: false },
    meta: {
      jobId,
      service: service.toPublicKey().toBase58(),
      user: user.toPublicKey().toBase58(),
      sourceCommitment: 'c'.repeat(40),
      command: 'sh',
      args: ['-c', `echo job ${jobs}`],
      artifacts: [],
      cwd: dir,
      createdAt: new Date().toISOString(),
      voucher,
    },
    stdout: quiet,
    stderr: quiet,
  })
  const state = await advanceJob(
    {
      spool,
      helia,
      runner,
      report: { workerUrl: 'http://w.invalid', attempts: 1, fetch: acknowledge },
    },
    jobId,
  )
  expect(state.phase).toBe('queued')
  return jobId
}

/** Runs a tiny job of `user` that carries a sponsor's pool voucher (as the Worker hands one out). */
async function runSponsoredJob(user: string, voucher: Voucher): Promise<string> {
  const jobId = randomBytes(16).toString('hex')
  await startJob({
    spool,
    config: { intervalMs: 50, perf: 'off', cgroup: false },
    meta: {
      jobId,
      service: service.toPublicKey().toBase58(),
      user,
      sourceCommitment: 'c'.repeat(40),
      command: 'sh',
      args: ['-c', 'echo sponsored'],
      artifacts: [],
      cwd: dir,
      createdAt: new Date().toISOString(),
      voucher,
    },
    stdout: quiet,
    stderr: quiet,
  })
  const state = await advanceJob(
    {
      spool,
      helia,
      runner,
      report: { workerUrl: 'http://w.invalid', attempts: 1, fetch: acknowledge },
    },
    jobId,
  )
  expect(state.phase).toBe('queued')
  return jobId
}

type SettleData = {
  cumulativeAmount: UInt64
  resultsRoot: Field
  leavesCid0: Field
  leavesCid1: Field
}

/** The latest Claim event of the service's ledger (the highest cumulative amount; order varies). */
async function lastSettle(): Promise<SettleData> {
  const events = await new ChannelLedger(await ledgerOf(service.toPublicKey())).fetchEvents()
  const settles = events
    .filter((e) => e.type === 'Claim')
    .map((e) => e.event.data as unknown as SettleData)
    .sort((a, b) => Number(a.cumulativeAmount.toBigInt() - b.cumulativeAmount.toBigInt()))
  return settles.at(-1)!
}

/** The results root of the latest settlement. */
async function lastSettledRoot(): Promise<bigint> {
  return (await lastSettle()).resultsRoot.toBigInt()
}

/** The manifest digests of the leaves document the latest Settle event names, read from the agent's store. */
async function lastSettledLeaves(): Promise<string[]> {
  const e = await lastSettle()
  const cid = unwrap(fieldsToCid([e.leavesCid0.toBigInt(), e.leavesCid1.toBigInt()]))
  expect(await helia.pins.isPinned(cid)).toBe(true)
  const parts: Uint8Array[] = []
  for await (const p of helia.blockstore.get(cid)) parts.push(p)
  const doc = unwrap(parseSettledLeaves(JSON.parse(Buffer.concat(parts).toString('utf8'))))
  expect(doc).toMatchObject({
    service: service.toPublicKey().toBase58(),
    user: userKey.toPublicKey().toBase58(),
  })
  return doc.manifestDigests
}

/** Whose results the settled tree holds. */
const owner = () => ({
  service: service.toPublicKey().toBase58(),
  user: userKey.toPublicKey().toBase58(),
})

async function digestsOf(ids: string[]): Promise<Uint8Array[]> {
  return Promise.all(ids.map(async (id) => fromHex((await spool.state(id)).manifestDigest!)))
}

describe('settlement through the contracts client', () => {
  const ids: string[] = []

  it('three jobs, one voucher for three: the runner is paid exactly 3 × price', async () => {
    for (const n of [1n, 2n, 3n]) ids.push(await runPaidJob(n))
    const out = await settleQueued(spool, settler)
    // The claim, then the service's flush: one batch and one redeem of the 3 × price.
    expect(out).toHaveLength(2)
    expect(out[0]).toMatchObject({ jobs: 3 })
    expect(out[0]).toHaveProperty('txHash')
    expect(out[1]).toEqual({
      service: service.toPublicKey().toBase58(),
      batches: 1,
      redeemed: String(3n * PRICE),
    })
    expect(await readCredits(PublicKey.fromBase58(runner.publicKey))).toBe(0n + 3n * PRICE)
    for (const [i, id] of ids.entries()) {
      const s = await spool.state(id)
      expect(s.phase).toBe('settled')
      expect(s.resultIndex).toBe(i)
      expect(s.settleTx).toBe((out[0] as { txHash: string }).txHash)
    }
    expect(await lastSettledRoot()).toBe(resultsRoot(owner(), await digestsOf(ids)).toBigInt())
    expect(await lastSettledLeaves()).toEqual((await digestsOf(ids)).map(toHex))
  }, 300_000)

  it('a second settle finds nothing to do', async () => {
    expect(await settleQueued(spool, settler)).toEqual([])
    expect(await readCredits(PublicKey.fromBase58(runner.publicKey))).toBe(3n * PRICE)
  }, 300_000)

  it('a later job settles under a root covering all four, the first three first', async () => {
    ids.push(await runPaidJob(4n))
    const out = await settleQueued(spool, settler)
    expect(out[0]).toMatchObject({ jobs: 1 })
    expect(await readCredits(PublicKey.fromBase58(runner.publicKey))).toBe(4n * PRICE)
    expect((await spool.state(ids[3]!)).resultIndex).toBe(3)
    expect(await lastSettledRoot()).toBe(resultsRoot(owner(), await digestsOf(ids)).toBigInt())
    // Cumulative: the document lists the earlier three too, in leaf order.
    expect(await lastSettledLeaves()).toEqual((await digestsOf(ids)).map(toHex))
  }, 300_000)

  it('a voucher that also covers a job the runner never ran pays for the queued job alone', async () => {
    // The voucher owes 6 × price: job 5 was signed for but never reached the runner (a failed
    // trigger the Worker had not released yet). The old settler refused ("pays for 2 jobs but
    // only 1 are queued") and the runner was never paid again.
    ids.push(await runPaidJob(6n))
    const out = await settleQueued(spool, settler)
    expect(out[0]).toMatchObject({ jobs: 1 })
    expect(await readCredits(PublicKey.fromBase58(runner.publicKey))).toBe(5n * PRICE)
    expect(await lastSettledRoot()).toBe(resultsRoot(owner(), await digestsOf(ids)).toBigInt())
  }, 300_000)

  it("two users' claims land first, then one batch applies both and one redeem pays both", async () => {
    const ledger = new ChannelLedger(await ledgerOf(service.toPublicKey()))
    // What each Batch event paid the runner (the events come in no fixed order).
    const batchPays = async () =>
      (await ledger.fetchEvents())
        .filter((e) => e.type === 'Batch')
        .map((e) => (e.event.data as unknown as { runnerPaid: UInt64 }).runnerPaid.toBigInt())
    const before = await batchPays()
    await mintCredits(payer, adminKey, secondUser.toPublicKey(), 100n)
    await deposit(payer, service.toPublicKey(), secondUser, secondUser.toPublicKey(), 100n)
    const runnerAddress = PublicKey.fromBase58(runner.publicKey)
    const paidBefore = await readCredits(runnerAddress)
    // The first user's voucher owes 7 × price, 5 paid: one new job. The second's first job.
    await runPaidJob(7n)
    await runPaidJob(1n, secondUser)
    const out = await settleQueued(spool, settler)
    // Both claims (in queue order), then the service's one flush.
    expect(out).toHaveLength(3)
    expect(out.slice(0, 2)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user: userKey.toPublicKey().toBase58(), jobs: 1 }),
        expect.objectContaining({ user: secondUser.toPublicKey().toBase58(), jobs: 1 }),
      ]),
    )
    expect(out[2]).toEqual({
      service: service.toPublicKey().toBase58(),
      batches: 1,
      redeemed: String(2n * PRICE),
    })
    // One batch applied both claims (both landed before it), and paid 2 × price at once.
    const after = await batchPays()
    expect(after).toHaveLength(before.length + 1)
    const added = [...after]
    for (const paid of before) added.splice(added.indexOf(paid), 1)
    expect(added).toEqual([2n * PRICE])
    expect(await readCredits(runnerAddress)).toBe(paidBefore + 2n * PRICE)
  }, 300_000)

  it('a sponsor’s pool pays for two users’ jobs: claimed on the sponsor’s channel with its newest pool voucher', async () => {
    // The pool key never holds an account or sends a transaction: it signs the grant, offline.
    const sponsor = PrivateKey.random()
    const sponsorAddress = sponsor.toPublicKey().toBase58()
    const grant = signSponsorshipGrant(
      {
        v: 1,
        service: service.toPublicKey().toBase58(),
        sponsor: sponsorAddress,
        jobsPerUserPerDay: 5,
        endSlot: '100000',
        cap: String(10n * PRICE),
      },
      { firstNonce: 1n, count: 4 },
      sponsor.toBase58(),
    )
    // Anyone may fund the pool: here the first user deposits 3 jobs' worth for the sponsor's channel.
    await deposit(payer, service.toPublicKey(), userKey, sponsor.toPublicKey(), 3n * PRICE)
    const runnerAddress = PublicKey.fromBase58(runner.publicKey)
    const paidBefore = await readCredits(runnerAddress)
    const a = PrivateKey.random().toPublicKey().toBase58()
    const b = PrivateKey.random().toPublicKey().toBase58()
    const jobs = [
      await runSponsoredJob(a, grant.vouchers[0]!),
      await runSponsoredJob(b, grant.vouchers[1]!),
    ]
    const out = await settleQueued(spool, settler)
    expect(out[0]).toMatchObject({ user: sponsorAddress, jobs: 2 })
    expect(out.at(-1)).toMatchObject({ batches: 1, redeemed: String(2n * PRICE) })
    expect(await readCredits(runnerAddress)).toBe(paidBefore + 2n * PRICE)
    // The pool's tree holds both users' results, in the order they ran.
    const e = await lastSettle()
    const pool = { service: service.toPublicKey().toBase58(), user: sponsorAddress }
    expect(e.resultsRoot.toBigInt()).toBe(resultsRoot(pool, await digestsOf(jobs)).toBigInt())
    // The claim was at the newest pool voucher's nonce: the next job takes the next voucher.
    const third = await runSponsoredJob(a, grant.vouchers[2]!)
    const again = await settleQueued(spool, settler)
    expect(again[0]).toMatchObject({ user: sponsorAddress, jobs: 1 })
    expect(await readCredits(runnerAddress)).toBe(paidBefore + 3n * PRICE)
    expect((await spool.state(third)).phase).toBe('settled')
  }, 600_000)
})

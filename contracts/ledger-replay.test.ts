import { Mina, type PrivateKey, type PublicKey } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { LedgerState } from '../protocol/index.ts'
import { LEDGER_BATCH_SIZE, skipReasonAt } from './channel-ledger.ts'
import { balanceOf, type ClaimForgery, LedgerHandle } from './channel-ledger-client.ts'
import { creditTokenId } from './credit-token.ts'
import { bookChannelOf, bookMap, readLedgerBooks } from './ledger-book.ts'
import {
  OpSequence,
  opLabel,
  REPLAY_COVERS,
  REPLAY_SEED,
  replayConfig,
  SIM_BATCH_SIZE,
} from './ledger-ops.ts'
import { LedgerSim, type SimOp, type StepResult } from './ledger-sim.ts'
import { resultsRoot } from './results-tree.ts'
import { seededKey, startTestChain, type TestChain, testDigests } from './test-chain.ts'

// What makes the pure ledger model trustworthy: the first operations of the property test's
// sequence (ledger.property.test.ts, the same seed and configuration) sent to the real
// ChannelLedger and LedgerVault on a LocalBlockchain (proofs off), in lockstep with LedgerSim.
// After every operation each party's credits and receipts, the vault and the runner equal the
// model's (a refused operation must be refused with its error constant); after every batch each
// channel the prover holds, the channels root, runnerPaid, refunded and the skip reasons of
// every Batch event equal the pure book's. At the end the book rebuilt from the chain's actions
// equals the model's too.

/** Operations replayed: a mass withdrawal of the 4 members and every path of REPLAY_COVERS. */
const PREFIX = 80

let chain: TestChain
let payer: PrivateKey
let keys: PrivateKey[]
let sponsor: PrivateKey
let l: LedgerHandle
let sim: LedgerSim

beforeAll(async () => {
  chain = await startTestChain({ proofsEnabled: false, users: 6 })
  payer = chain.payer.key
  keys = chain.users.slice(0, 5)
  sponsor = chain.users[5]!
  const names = keys.map((k) => k.toPublicKey().toBase58())
  const owner = (u: number) => ({ service: l.service.toBase58(), user: names[u]! })
  const config = replayConfig(names, (u, count) =>
    resultsRoot(owner(u), testDigests(Number(count))).toBigInt(),
  )
  l = await LedgerHandle.deploy(
    payer,
    seededKey(9100),
    seededKey(9101),
    config.terms.pricePerJob,
    Number(config.terms.withdrawTimelockSlots),
  )
  config.slot = Mina.getNetworkState().globalSlotSinceGenesis.toBigint()
  sim = new LedgerSim(config)
})

const pub = (u: number): PublicKey => keys[u]!.toPublicKey()
const credits = (k: PublicKey) => balanceOf(k, creditTokenId())

/** Sends the operation's transaction; refused exactly when the model refuses it, with its error. */
async function send(op: SimOp, expected: StepResult): Promise<void> {
  const attempt = async (tx: () => Promise<unknown>) => {
    if (expected.refused) await expect(tx()).rejects.toThrow(expected.refused)
    else await tx()
  }
  switch (op.kind) {
    case 'deposit': {
      const from = op.from === 'sponsor' ? sponsor : keys[op.from]!
      return attempt(() => l.deposit(payer, from, pub(op.user), op.amount))
    }
    case 'claim':
      return attempt(() =>
        l.claim(
          payer,
          pub(op.user),
          testDigests(Number(op.count)),
          l.voucher(keys[op.user]!, op.voucher.amount, op.voucher.nonce),
        ),
      )
    case 'forgedClaim': {
      const other = keys[(op.user + 1) % keys.length]!
      let digests = testDigests(Number(op.count))
      let signer = keys[op.user]!
      const forge: ClaimForgery = {}
      if (op.forgery === 'countAboveTree') forge.count = op.count + 1n
      if (op.forgery === 'countAboveSigned') {
        digests = testDigests(Number(op.count) + 1)
        forge.signedCount = op.count
      }
      if (op.forgery === 'otherUsersLeaves') forge.owner = other.toPublicKey()
      if (op.forgery === 'notRunnerKey') forge.runnerKey = other
      if (op.forgery === 'voucherNotSigned') signer = other
      const v = l.voucher(signer, op.voucher.amount, op.voucher.nonce)
      return attempt(() => l.claim(payer, pub(op.user), digests, v, forge))
    }
    case 'requestWithdraw':
      return attempt(() => l.requestWithdraw(payer, keys[op.user]!, op.closeNonce))
    case 'withdraw':
      return attempt(() => l.withdraw(payer, keys[op.user]!))
    case 'advance':
      chain.local.incrementGlobalSlot(Number(op.slots))
      return
    case 'batch': {
      const [batch] = await l.prepare()
      expect(batch, 'the chain has no pending batch').toBeDefined()
      await l.sendBatch(payer, batch!)
      return
    }
    case 'refund':
      return attempt(() => l.refund(payer, keys[op.user]!))
    case 'redeem':
      return attempt(() => l.redeem(payer, l.runnerKey, op.amount))
    case 'job':
    case 'expectClosed':
      return
  }
}

/** Every party's credits and receipts, the vault and the runner, against the model. */
function expectBalances(at: string) {
  const runner = l.runnerKey.toPublicKey()
  expect(
    {
      users: keys.map((k) => credits(k.toPublicKey())),
      pulled: keys.map((k) => l.receipts(k.toPublicKey())),
      sponsor: credits(sponsor.toPublicKey()),
      runner: credits(runner),
      receipts: l.receipts(runner),
      vault: l.vaultBalance(),
    },
    at,
  ).toEqual({
    users: sim.users.map((u) => u.credits),
    pulled: sim.users.map((u) => u.pulled),
    sponsor: sim.sponsorCredits,
    runner: sim.runnerCredits,
    receipts: sim.receipts,
    vault: sim.vault,
  })
}

/** Each channel, the channels root, runnerPaid, refunded and every batch's skip reasons. */
async function expectChannels(at: string, reasons: bigint[]) {
  for (const [u, name] of sim.config.names.entries()) {
    expect(bookChannelOf(l.channel(pub(u))), `${at}: user ${u}`).toEqual(sim.committed.get(name))
  }
  const state = Mina.getAccount(l.address).zkapp!.appState.map((f) => f.toBigInt())
  expect(state[LedgerState.channelsRoot], at).toBe(bookMap(sim.committed).root.toBigInt())
  expect(state[LedgerState.runnerPaid], at).toBe(sim.runnerPaid)
  expect(state[LedgerState.refunded], at).toBe(sim.refunded)
  const events = (await l.contract.fetchEvents()).filter((e) => e.type === 'Batch')
  const onChain = events.map((e) =>
    (e.event.data as unknown as { reasons: { toBigInt(): bigint } }).reasons.toBigInt(),
  )
  const sorted = (xs: bigint[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  expect(sorted(onChain), `${at}: skip reasons`).toEqual(sorted(reasons))
}

describe('ledger replay', () => {
  it(`the first ${PREFIX} operations of the property test's sequence: the chain equals the pure book after every batch`, async () => {
    expect(SIM_BATCH_SIZE).toBe(LEDGER_BATCH_SIZE)
    const seq = new OpSequence(REPLAY_SEED)
    const kinds = new Set<string>()
    const reasons: bigint[] = []
    for (let i = 0; i < PREFIX; i++) {
      const op = seq.next(sim)
      const expected = sim.step(op)
      const at = `operation ${i} (${op.kind})`
      await send(op, expected)
      kinds.add(opLabel(op, expected))
      expectBalances(at)
      if (expected.batch) {
        const packed = expected.batch.reasons.reduce(
          (s, r, j) => s + (BigInt(r) << BigInt(3 * j)),
          0n,
        )
        expect(skipReasonAt(packed, 0)).toBe(expected.batch.reasons[0])
        reasons.push(packed)
        await expectChannels(at, reasons)
      }
    }
    // The prefix covers the mass withdrawal and the attacks, not only the happy path.
    for (const k of REPLAY_COVERS) expect(kinds, k).toContain(k)
    expect(sim.runnerPaid).toBeGreaterThan(0n)
    // The book rebuilt from the chain's actions (the Worker's and the page's view) is the model's.
    const books = await readLedgerBooks(l.address)
    for (const name of sim.config.names) {
      expect(books.committed.get(name)).toEqual(sim.committed.get(name))
      expect(books.all.get(name)).toEqual(sim.all.get(name))
    }
    // About 65 proofs-off transactions, each running its circuits to build the witness: 1.5
    // minutes of CPU, several times that on a loaded shared machine.
  }, 1_800_000)
})

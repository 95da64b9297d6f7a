import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, inject, it } from 'vitest'
import {
  ActionKind,
  actionListHash,
  EMPTY_ACTION_STATE,
  EMPTY_BOOK_CHANNEL,
  generateMinaKeyPair,
  LedgerBook,
  LedgerState,
  publicKeyToFields,
  pushListHash,
  RECEIPTS_PER_QUERY,
  receiptTokenIdOf,
} from '../protocol/index.ts'
import { LedgerFollower } from './ledger-follower.ts'
import { ReceiptKeeper } from './ledger-receipts.ts'
import { keptLedgerSolvency } from './ledger-solvency-kept.ts'
import { type ChainReader, MinaGraphqlReader } from './mina.ts'
import { type FakeAccount, TEST_CREDIT_TOKEN_ID } from './test-support/constants.ts'
import {
  archiveListed,
  depositFor,
  errorOf,
  fundedUser,
  genuineVault,
  makeService,
  pipelinesFor,
  postJson,
  registeredService,
  setChainAccount,
  setVault,
  submit,
  type TestService,
  testEnv,
} from './test-support/fixtures.ts'
import { fixtureLedgerAddress } from './test-support/ledger-fixture.ts'

// The Worker lists and admits only a solvent ledger (protocol's solvency check, read from the
// fake node and archive): a ledger whose state its key holder wrote before the freeze, or whose
// escrow holds less than it owes, is refused with 409 unsafe_service naming why, and a refused
// job is neither dispatched nor charged. A gift above what the ledger owes is accepted.

/** Rewrites one state field of the service's ledger on the fake node (code and permissions kept). */
async function setLedgerField(service: TestService, field: number, value: bigint) {
  const ledger = fixtureLedgerAddress(service.address)
  const res = await fetch(inject('minaUrl'), {
    method: 'POST',
    body: JSON.stringify({
      query: `{ l: account(publicKey: ${JSON.stringify(ledger)}) { zkappState } }`,
    }),
  })
  const found = ((await res.json()) as { data: { l: Required<FakeAccount> } }).data.l
  const zkappState = [...found.zkappState]
  zkappState[field] = String(value)
  // Its landed actions stay (a state write does not unland them).
  await setChainAccount(
    ledger,
    { zkappState, verificationKey: found.verificationKey, permissions: found.permissions },
    undefined,
    { keepActions: true },
  )
}

/** Registering `service` is refused 409 unsafe_service, naming the solvency check's `code`. */
async function expectRefusedAs(service: { registration: unknown }, code: string) {
  const res = await postJson('/v1/services', service.registration)
  expect(res.status).toBe(409)
  expect(await errorOf(res)).toMatchObject({
    code: 'unsafe_service',
    message: expect.stringContaining(code),
  })
}

describe('the Worker refuses a ledger whose money does not add up', () => {
  it('refuses to register a service whose ledger channels were written before the freeze', async () => {
    const service = await makeService()
    await setLedgerField(service, LedgerState.channelsRoot, 12345n)
    await expectRefusedAs(service, 'CHANNELS_NOT_REBUILT')
  })

  it('refuses to register a service whose ledger says it paid its runner what no batch paid', async () => {
    const service = await makeService()
    await setLedgerField(service, LedgerState.runnerPaid, 1500n)
    await expectRefusedAs(service, 'LEDGER_COUNTERS_DIFFER')
  })

  it('admits against a solvent escrow only: one credit short is refused, charging nothing; a gift is fine', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 30n)
    // The escrow holds one credit less than the deposits it owes (as a deposit action with no
    // credits behind it, dispatched before the freeze, would leave it).
    await setVault(service.address, genuineVault('29'))
    const short = await submit(service, user, 10n, 1n)
    expect(short.res.status).toBe(409)
    expect(await errorOf(short.res)).toMatchObject({
      code: 'unsafe_service',
      message: expect.stringContaining('RECEIPTS_EXCEED_ESCROW'),
    })
    expect((await pipelinesFor(short.requestId)).pipelines).toHaveLength(0)
    // A gift above what it owes harms nobody: admitted, at the same voucher (the refused job
    // recorded nothing owed).
    await setVault(service.address, genuineVault('1000'))
    expect((await submit(service, user, 10n, 1n)).res.status).toBe(202)
  })
})

describe('the solvency check judges from kept readings', () => {
  it('checks a ledger with more actions than the per-read cap over several requests, reading each action once', async () => {
    const service = await makeService({ price: 10n })
    // A stranger's 45 one-credit deposits: past the cap of 20 a read (LEDGER_ACTIONS_PER_READ).
    for (let i = 0; i < 45; i++) await depositFor(service, generateMinaKeyPair().publicKey, 1n)
    const answers: { status: number; message?: string }[] = []
    for (let i = 0; i < 5; i++) {
      const res = await postJson('/v1/services', service.registration)
      answers.push({ status: res.status, ...(res.status === 201 ? {} : await errorOf(res)) })
      if (res.status === 201) break
    }
    // Undecided twice (never unsafe), then listed: 20, 40, 45 actions read.
    expect(answers.map((a) => a.status)).toEqual([503, 503, 201])
    expect(answers[0]!.message).toContain('caught up (20 read so far')
    expect(answers[1]!.message).toContain('caught up (40 read so far')
    // Each read listed only the actions after the kept progress (45, 25, 5: the archive lists to
    // the end, the read folds the cap): no check starts again from the first action.
    expect(await archiveListed(service)).toBe(45 + 25 + 5)
    // The admission's book continues the same kept reading: only the user's deposit is read.
    const user = await fundedUser(service, 10n)
    expect((await submit(service, user, 10n, 1n)).res.status).toBe(202)
    expect(await archiveListed(service)).toBe(45 + 25 + 5 + 1)
  })

  it('an evicted object judges the pending stack from its stored chain, reading no action again', async () => {
    // Two actions processed (the ledger paid its runner 20), two deposits landed after.
    const service = await registeredService({ price: 10n, runnerPaid: 20n })
    const user = generateMinaKeyPair().publicKey
    const stranger = generateMinaKeyPair().publicKey
    await depositFor(service, user, 7n)
    await depositFor(service, stranger, 1n)
    const list = (who: string, amount: bigint) => {
      const f = publicKeyToFields(who)
      if (!f.ok) throw f.error
      return actionListHash([[BigInt(ActionKind.deposit), ...f.value, amount, 0n, 0n, 0n, 0n]])
    }
    const ledger = fixtureLedgerAddress(service.address)
    const stub = testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))
    // A fresh follower and keeper over the object's storage each time: an evicted instance.
    const judge = () =>
      runInDurableObject(stub, async (_instance, state) => {
        const storage = {
          sql: state.storage.sql,
          transactionSync: <T>(fn: () => T) => state.storage.transactionSync(fn),
        }
        try {
          const verdict = await keptLedgerSolvency(
            new MinaGraphqlReader(inject('minaUrl')),
            new LedgerFollower(storage, 20),
            new ReceiptKeeper(state.storage.sql),
            ledger,
            TEST_CREDIT_TOKEN_ID,
          )
          return verdict.solvent ? 'solvent' : verdict.code
        } catch (err) {
          return `error: ${err instanceof Error ? err.message : err}`
        }
      })
    expect(await judge()).toBe('solvent')
    const listed = await archiveListed(service)
    // The stack processBatch leaves after popping the first pending list: solvent.
    await setLedgerField(
      service,
      LedgerState.actionStack,
      pushListHash(EMPTY_ACTION_STATE, list(user, 7n)),
    )
    expect(await judge()).toBe('solvent')
    // A stack starting at the second pending list: nobody dispatched it there.
    await setLedgerField(
      service,
      LedgerState.actionStack,
      pushListHash(EMPTY_ACTION_STATE, list(stranger, 1n)),
    )
    expect(await judge()).toBe('ACTIONS_FORGED')
    // A processed state the landed chain never passes.
    await setLedgerField(service, LedgerState.actionStack, EMPTY_ACTION_STATE)
    await setLedgerField(service, LedgerState.actionState, 999n)
    expect(await judge()).toBe('ACTIONS_FORGED')
    // All judged from what the object kept: no action listed again.
    expect(await archiveListed(service)).toBe(listed)
  })

  it('refuses a ledger whose processed action state no landed action reaches (ACTIONS_FORGED)', async () => {
    const service = await makeService()
    await depositFor(service, generateMinaKeyPair().publicKey, 5n)
    await setLedgerField(service, LedgerState.actionState, 12345n)
    await expectRefusedAs(service, 'ACTIONS_FORGED')
  })

  it('refuses a ledger whose stack of pending actions no landed action gives (ACTIONS_FORGED)', async () => {
    const service = await makeService()
    await depositFor(service, generateMinaKeyPair().publicKey, 5n)
    await setLedgerField(service, LedgerState.actionStack, 777n)
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(409)
    expect((await errorOf(res)).message).toContain('ACTIONS_FORGED')
  })

  it('reads many refunded users’ receipts a bounded number of documents a check, and never again once settled', async () => {
    const service = await makeService()
    const ledger = fixtureLedgerAddress(service.address)
    const token = receiptTokenIdOf(ledger)
    if (!token.ok) throw token.error
    // 120 users refunded 5 each; the first 30 pulled it all, the next 30 pulled 2.
    const users = Array.from({ length: 120 }, () => generateMinaKeyPair().publicKey)
    for (const [i, user] of users.entries())
      if (i < 60) await setChainAccount(user, { balance: i < 30 ? '5' : '2' }, token.value)
    const stub = testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))
    const rounds = await runInDurableObject(stub, async (_instance, state) => {
      const mina = new MinaGraphqlReader(inject('minaUrl'))
      const asked: string[][] = []
      // The real reader over the fake node, counting the users each receipt read asks for.
      const chain = {
        ledgerReceipts: (l: string, u: readonly string[]) => {
          asked.push([...u])
          return mina.ledgerReceipts(l, u)
        },
      } as unknown as ChainReader
      const book = new LedgerBook({ pricePerJob: 10n, withdrawTimelockSlots: 100n })
      for (const user of users) book.restore(user, { ...EMPTY_BOOK_CHANNEL, refunded: 5n })
      const keeper = new ReceiptKeeper(state.storage.sql, 1)
      const out = []
      for (let i = 0; i < 4; i++) {
        const kept = await keeper.read(chain, ledger, book)
        out.push({
          documents: kept.documents,
          fresh: kept.fresh.size,
          known: kept.receipts.size,
          settled: [...kept.receipts].filter(([, v]) => v >= 5n).length,
        })
      }
      return { out, asked }
    })
    // One document (RECEIPTS_PER_QUERY users) a check: the 120 users all read by the third; then
    // only the 90 not fully pulled are read again, oldest-read first; the 30 settled never.
    expect(RECEIPTS_PER_QUERY).toBe(50)
    expect(rounds.asked.map((a) => a.length)).toEqual([50, 50, 50, 50])
    expect(rounds.asked[0]).toEqual(users.slice(0, 50))
    expect(rounds.asked[1]).toEqual(users.slice(50, 100))
    expect(rounds.asked[2]).toEqual([...users.slice(100), ...users.slice(30, 60)])
    expect(rounds.asked[3]).toEqual([...users.slice(60, 100), ...users.slice(30, 40)])
    const settled = new Set(users.slice(0, 30))
    expect(
      rounds.asked
        .slice(1)
        .flat()
        .filter((u) => settled.has(u)),
    ).toEqual([])
    expect(rounds.out.map((r) => r.documents)).toEqual([1, 1, 1, 1])
    expect(rounds.out.map((r) => r.settled)).toEqual([30, 30, 30, 30])
    expect(rounds.out[3]!.known).toBe(120)
  })
})

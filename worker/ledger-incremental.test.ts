import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, inject, it } from 'vitest'
import { generateMinaKeyPair } from '../protocol/index.ts'
import { LedgerFollower } from './ledger-follower.ts'
import { MinaGraphqlReader } from './mina.ts'
import {
  archiveListed,
  depositFor,
  dispatchLedgerAction,
  errorOf,
  fundedUser,
  lyingIncrement,
  pipelinesFor,
  registeredService,
  reorgLedger,
  submit,
  testEnv,
} from './test-support/fixtures.ts'
import { fixtureLedgerAddress } from './test-support/ledger-fixture.ts'

// The service's Durable Object keeps its ledger's checked reading (action state, book) and
// continues it on each admission with only the actions landed since: the fake archive counts the
// actions it lists. The kept reading is never trusted on its own: a lying increment, a reorg and
// a backlog past the per-read cap (LEDGER_ACTIONS_PER_READ = 20 in this pool) are each shown here.

describe('incremental ledger reads at admission', () => {
  it('a second admission reads only the actions landed since the first; concurrent ones share one read', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 30n)
    const other = await fundedUser(service, 30n)
    expect((await submit(service, user, 10n, 1n)).res.status).toBe(202)
    // The first admission listed the ledger's two actions once: its first solvency check (then
    // trusted: worker/README.md, "Solvency") judges from the same kept reading as the book.
    expect(await archiveListed(service)).toBe(2)
    for (let i = 0; i < 3; i++) await depositFor(service, generateMinaKeyPair().publicKey, 1n)
    const [a, b] = await Promise.all([
      submit(service, user, 20n, 2n),
      submit(service, other, 10n, 1n),
    ])
    expect(a.res.status).toBe(202)
    expect(b.res.status).toBe(202)
    // Only the three new actions, once, however many admissions read.
    expect(await archiveListed(service)).toBe(2 + 3)
    expect((await submit(service, user, 30n, 3n)).res.status).toBe(202)
    expect(await archiveListed(service)).toBe(2 + 3)
  })

  it('an evicted object resumes from the reading in its storage, not from the first action', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 30n)
    expect((await submit(service, user, 10n, 1n)).res.status).toBe(202)
    await depositFor(service, user.publicKey, 5n)
    const stub = testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))
    // A new follower over the object's storage: what a fresh instance after eviction starts with.
    const reading = await runInDurableObject(stub, async (_instance, state) => {
      const follower = new LedgerFollower(
        { sql: state.storage.sql, transactionSync: (fn) => state.storage.transactionSync(fn) },
        20,
      )
      const chain = new MinaGraphqlReader(inject('minaUrl'))
      const r = await follower.read(chain, fixtureLedgerAddress(service.address), {
        pricePerJob: 10n,
        withdrawTimelockSlots: 100n,
      })
      return { fundable: r.book.fundable(user.publicKey), last: follower.last }
    })
    expect(reading.fundable).toBe(35n)
    expect(reading.last).toEqual({ complete: true, rebuilt: false, listed: 1, folded: 1 })
  })

  it('refuses what a lying archive says on the increment', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 10n)
    expect((await submit(service, user, 10n, 1n)).res.status).toBe(202)
    // 9 more land; the archive says 10 on the increment (enough for a second job), not on a
    // whole read: the increment does not hash to the node's state, the whole list says 19.
    await lyingIncrement(service, true)
    await depositFor(service, user.publicKey, 9n)
    const lied = await submit(service, user, 20n, 2n)
    expect(lied.res.status).toBe(409)
    expect((await errorOf(lied.res)).message).toContain('insufficient-deposit')
    expect((await pipelinesFor(lied.requestId)).pipelines).toHaveLength(0)
    // An increment the archive hides an action from, on a whole read too: nobody is admitted.
    await lyingIncrement(service, false)
    await depositFor(service, user.publicKey, 1n)
    await dispatchLedgerAction(service, 3, user.publicKey, { nonce: 2n, slot: 1010n, hidden: true })
    const hidden = await submit(service, user, 20n, 2n)
    expect(hidden.res.status).toBe(503)
    expect(await errorOf(hidden.res)).toMatchObject({
      code: 'chain_unavailable',
      message: expect.stringContaining('ACTION_STATE_MISMATCH'),
    })
    expect((await pipelinesFor(hidden.requestId)).pipelines).toHaveLength(0)
  })

  it('rebuilds from the first action when the node’s state does not extend the kept one (a reorg)', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 10n)
    await depositFor(service, user.publicKey, 100n)
    expect((await submit(service, user, 10n, 1n)).res.status).toBe(202)
    // The 100-credit deposit is orphaned; a stranger's action lands in its place.
    await reorgLedger(service, 1)
    await depositFor(service, generateMinaKeyPair().publicKey, 1n)
    const before = await archiveListed(service)
    const res = (await submit(service, user, 20n, 2n)).res
    expect(res.status).toBe(409)
    expect((await errorOf(res)).message).toContain('insufficient-deposit')
    // The kept state is unknown to the archive; the whole ledger (2 actions) was read again.
    expect((await archiveListed(service)) - before).toBe(2)
    await depositFor(service, user.publicKey, 10n)
    expect((await submit(service, user, 20n, 2n)).res.status).toBe(202)
  })

  it('catches a backlog past the per-read cap up over several requests, then admits', async () => {
    const service = await registeredService({ price: 10n })
    // A stranger's 44 one-credit deposits land before the user's: 45 actions, the cap is 20.
    for (let i = 0; i < 44; i++) await depositFor(service, generateMinaKeyPair().publicKey, 1n)
    const user = await fundedUser(service, 10n)
    const refusals: string[] = []
    let status = 0
    for (let i = 0; i < 5 && status !== 202; i++) {
      const { res, requestId } = await submit(service, user, 10n, 1n)
      status = res.status
      if (status !== 202) {
        expect(status).toBe(503)
        refusals.push((await errorOf(res)).message)
        expect((await pipelinesFor(requestId)).pipelines).toHaveLength(0)
      }
    }
    expect(status).toBe(202)
    // 20 of 45 actions read by the solvency re-check (undecided: the ledger was seen solvent at
    // registration, so not refused), 40 by the book: one refusal (fail closed), the second
    // request admits.
    expect(refusals).toHaveLength(1)
    expect(refusals[0]).toContain('caught up (40 read so far')
    // Each read listed only what followed the kept progress (the archive lists to the end, the
    // read folds the cap), the solvency check's included: 45, then 25, then 5.
    expect(await archiveListed(service)).toBe(45 + 25 + 5)
  })
})

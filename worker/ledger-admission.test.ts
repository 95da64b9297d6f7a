import { describe, expect, it } from 'vitest'
import { ActionKind, generateMinaKeyPair } from '../protocol/index.ts'
import {
  call,
  depositFor,
  dispatchLedgerAction,
  errorOf,
  fundedUser,
  pipelinesFor,
  registeredService,
  serviceStatusPath,
  submit,
} from './test-support/fixtures.ts'

// Admission reads the user's channel from the service's ChannelLedger: every action the archive
// lists, checked against the ledger's action state on the node, folded by protocol's book. Only
// the user's own signed actions (a withdrawal request) lower what they can fund; a stranger's
// deposit only adds, and an archive that hides an action refuses everyone (fails closed).

describe('admission against the ledger book', () => {
  it('admits a user funded in the ledger, and refuses one with no deposit', async () => {
    const service = await registeredService({ price: 10n })
    const funded = await fundedUser(service, 30n)
    const { res, requestId } = await submit(service, funded, 10n, 1n)
    expect(res.status).toBe(202)
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(1)

    const unfunded = generateMinaKeyPair()
    const refused = await submit(service, unfunded, 10n, 1n)
    expect(refused.res.status).toBe(409)
    expect(await errorOf(refused.res)).toMatchObject({
      code: 'service_disabled',
      message: expect.stringContaining('insufficient-deposit'),
    })
    expect((await pipelinesFor(refused.requestId)).pipelines).toHaveLength(0)
  })

  it('refuses a user whose withdrawal is pending; a stranger’s deposit for them does not re-open it', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 100n)
    await dispatchLedgerAction(service, ActionKind.requestWithdraw, user.publicKey, {
      nonce: 1n,
      slot: 1010n,
    })
    const pending = await submit(service, user, 10n, 1n)
    expect(pending.res.status).toBe(409)
    expect((await errorOf(pending.res)).message).toContain('insufficient-deposit')
    // A 1-credit deposit by anyone for the user, and many tiny ones for others, change nothing.
    await depositFor(service, user.publicKey, 1n)
    for (let i = 0; i < 5; i++) await depositFor(service, generateMinaKeyPair().publicKey, 1n)
    const still = await submit(service, user, 10n, 2n)
    expect(still.res.status).toBe(409)
    const status = (await (await call(serviceStatusPath(service, user))).json()) as {
      chain: { funding: { deposit: string } }
    }
    expect(status.chain.funding.deposit).toBe('0')
    expect((await pipelinesFor(pending.requestId)).pipelines).toHaveLength(0)
  })

  it('a stranger’s deposits and requests of their own never refuse a funded user', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 20n)
    const stranger = generateMinaKeyPair()
    await depositFor(service, stranger.publicKey, 1n)
    await dispatchLedgerAction(service, ActionKind.requestWithdraw, stranger.publicKey, {
      nonce: 1n,
      slot: 1010n,
    })
    await depositFor(service, user.publicKey, 1n)
    expect((await submit(service, user, 10n, 1n)).res.status).toBe(202)
    expect((await submit(service, user, 20n, 2n)).res.status).toBe(202)
    // 20 owed + 10 > 21 deposited.
    expect((await submit(service, user, 30n, 3n)).res.status).toBe(409)
  })

  it('counts settled claims: a voucher the ledger would skip as stale is refused', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 30n)
    // The runner's claim landed for 2 jobs at voucher nonce 5 (as after an earlier Worker state).
    await dispatchLedgerAction(service, ActionKind.settle, user.publicKey, {
      amount: 20n,
      nonce: 5n,
      resultsCount: 2n,
    })
    const stale = await submit(service, user, 30n, 5n)
    expect(stale.res.status).toBe(409)
    expect(await errorOf(stale.res)).toMatchObject({
      code: 'voucher_stale',
      message: expect.stringContaining('5'),
    })
    // 20 paid + 10 fundable: one more job, at a nonce the ledger will take.
    expect((await submit(service, user, 30n, 6n)).res.status).toBe(202)
  })

  it('reports settled jobs from the ledger’s runnerPaid, not the heartbeat', async () => {
    const service = await registeredService({ price: 10n, runnerPaid: 30n })
    const status = (await (await call(`/v1/services/${service.address}`)).json()) as {
      chain: { settledJobs: string }
    }
    expect(status.chain.settledJobs).toBe('3')
  })

  it('fails closed when the archive hides an action the chain holds', async () => {
    const service = await registeredService({ price: 10n })
    const user = await fundedUser(service, 100n)
    // The withdrawal request landed; the archive does not list it.
    await dispatchLedgerAction(service, ActionKind.requestWithdraw, user.publicKey, {
      nonce: 1n,
      slot: 1010n,
      hidden: true,
    })
    const { res, requestId } = await submit(service, user, 10n, 1n)
    expect(res.status).toBe(503)
    expect(await errorOf(res)).toMatchObject({
      code: 'chain_unavailable',
      message: expect.stringContaining('ACTION_STATE_MISMATCH'),
    })
    expect((await pipelinesFor(requestId)).pipelines).toHaveLength(0)
  })
})

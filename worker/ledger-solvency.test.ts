import { describe, expect, inject, it } from 'vitest'
import { LedgerState, type MinaKeyPair } from '../protocol/index.ts'
import type { FakeAccount } from './test-support/constants.ts'
import {
  fundedUser,
  genuineVault,
  makeService,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  setChainAccount,
  setVault,
  type TestService,
} from './test-support/fixtures.ts'
import { fixtureLedgerAddress } from './test-support/ledger-fixture.ts'

// The Worker lists and admits only a solvent ledger (protocol's solvency check, read from the
// fake node and archive): a ledger whose state its key holder wrote before the freeze, or whose
// escrow holds less than it owes, is refused with 409 unsafe_service naming why, and a refused
// job is neither dispatched nor charged. A gift above what the ledger owes is accepted.

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string } }).error

const submit = async (
  service: TestService,
  user: MinaKeyPair,
  cumulative: bigint,
  nonce: bigint,
) => {
  const { envelope, requestId } = await sealedJob(service, user, {
    cumulativeAmount: cumulative,
    nonce,
  })
  return { res: await postJson('/v1/jobs', envelope), requestId }
}

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
  await setChainAccount(ledger, {
    zkappState,
    verificationKey: found.verificationKey,
    permissions: found.permissions,
  })
}

describe('the Worker refuses a ledger whose money does not add up', () => {
  it('refuses to register a service whose ledger channels were written before the freeze', async () => {
    const service = await makeService()
    await setLedgerField(service, LedgerState.channelsRoot, 12345n)
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(409)
    expect(await errorOf(res)).toMatchObject({
      code: 'unsafe_service',
      message: expect.stringContaining('CHANNELS_NOT_REBUILT'),
    })
  })

  it('refuses to register a service whose ledger says it paid its runner what no batch paid', async () => {
    const service = await makeService()
    await setLedgerField(service, LedgerState.runnerPaid, 1500n)
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(409)
    expect(await errorOf(res)).toMatchObject({
      code: 'unsafe_service',
      message: expect.stringContaining('LEDGER_COUNTERS_DIFFER'),
    })
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

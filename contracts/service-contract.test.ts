import Client from 'mina-signer-3'
import { Mina, UInt32 } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import * as client from './client.ts'
import { startTestChain, type TestChain, type TestService, testDigests } from './test-chain.ts'

let chain: TestChain
let svc: TestService

beforeAll(async () => {
  chain = await startTestChain({ users: 3 })
  svc = await chain.deployService({ price: 10n, timelock: 50 })
})

describe('service contract', () => {
  it('deploys with the frozen fields in place', async () => {
    const state = await client.readServiceState(svc.address)
    expect(state.terms).toEqual({ pricePerJob: 10n, withdrawTimelockSlots: 50n })
    expect(state.channelsRoot).toBe(svc.book.root.toBigInt())
    expect(state.heartbeat).toEqual({ lastHeartbeatSlot: 0n, settledJobs: 0n })
  })

  it('deposits mint receipts and move credits into the vault', async () => {
    const user = chain.users[0]!
    const before = await client.readCredits(user.toPublicKey())
    await client.deposit(chain.payer, svc.address, user, user.toPublicKey(), 500n)
    expect(await client.readDeposit(svc.address, user.toPublicKey())).toBe(500n)
    expect(await client.readEscrow(svc.address)).toBe(500n)
    expect(await client.readCredits(user.toPublicKey())).toBe(before - 500n)
  })

  it('settles a voucher and pays the runner the price of each new result', async () => {
    const user = chain.users[0]!
    const v = chain.voucher(user, svc, 320n, 1n)
    await chain.settleResults(svc, user.toPublicKey(), testDigests(32), v)
    expect(await client.readCredits(svc.runnerKey.toPublicKey())).toBe(320n)
    expect(await client.readEscrow(svc.address)).toBe(180n)
    const state = await client.readServiceState(svc.address)
    expect(state.channelsRoot).toBe(svc.book.root.toBigInt())
    expect(state.heartbeat.settledJobs).toBe(32n)
  })

  it('withdraws the remainder after the timelock', async () => {
    const user = chain.users[0]!
    const slot0 = Number(chain.local.getNetworkState().globalSlotSinceGenesis.toBigint())
    await client.requestWithdraw(chain.payer, svc.address, svc.book, user, 1n)
    chain.local.setGlobalSlot(UInt32.from(slot0 + 10 + 50))
    const before = await client.readCredits(user.toPublicKey())
    await client.withdraw(chain.payer, svc.address, svc.book, user)
    expect(await client.readCredits(user.toPublicKey())).toBe(before + 180n)
    expect(await client.readEscrow(svc.address)).toBe(0n)
    expect(await client.readDeposit(svc.address, user.toPublicKey())).toBe(320n)
  })
  it('a deposit proved unsigned lands once the wallet signs it, as Auro does', async () => {
    // The page proves without the key; the wallet signs the fee payer and the account updates its
    // key authorizes with mina-signer and sends. mina-signer 3 signs o1js 2's transaction layout
    // (mina-signer 4 is for the Mesa layout, 32 state fields).
    const user = chain.users[2]!
    const json = await client.proveDeposit(user.toPublicKey(), svc.address, user.toPublicKey(), 70n)
    const before = await client.readDeposit(svc.address, user.toPublicKey())
    await expect(Mina.Transaction.fromJSON(json).send()).rejects.toThrow(/signature/i)
    expect(await client.readDeposit(svc.address, user.toPublicKey())).toBe(before)
    const command = JSON.parse(json) as { feePayer: { body: { nonce: string } } }
    const signed = new Client({ network: 'devnet' }).signZkappCommand(
      {
        zkappCommand: JSON.parse(json),
        feePayer: {
          feePayer: user.toPublicKey().toBase58(),
          fee: '100000000',
          nonce: command.feePayer.body.nonce,
          memo: 'zkrunner deposit',
        },
      },
      user.toBase58(),
    )
    const pending = await Mina.Transaction.fromJSON(signed.data.zkappCommand).send()
    expect(pending.status).toBe('pending')
    expect(await client.readDeposit(svc.address, user.toPublicKey())).toBe(before + 70n)
  })
})

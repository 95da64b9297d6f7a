import Client from 'mina-signer-3'
import { Mina, TokenId, UInt32, UInt64 } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { ledgerAddressOf } from '../protocol/index.ts'
import { balanceOf } from './channel-ledger-client.ts'
import * as client from './client.ts'
import { creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import {
  seededKey,
  startTestChain,
  type TestChain,
  type TestService,
  testDigests,
} from './test-chain.ts'

// The service and its ledger wired together, through the client every part uses: deposits,
// claims, batches, withdrawal and refund all go through the ledger the service names.

let chain: TestChain
let svc: TestService

beforeAll(async () => {
  chain = await startTestChain({ users: 3 })
  svc = await chain.deployService({ price: 10n, timelock: 50 })
})

describe('service contract and its ledger', () => {
  it('deploys with the frozen fields in place, bound to its ledger both ways', async () => {
    const state = await client.readServiceState(svc.address)
    expect(state.terms).toEqual({ pricePerJob: 10n, withdrawTimelockSlots: 50n })
    expect(state.heartbeat).toEqual({ lastHeartbeatSlot: 0n, settledJobs: 0n })
    expect(state.ledger).toBe(svc.ledger.x.toBigInt())
    expect((await client.ledgerOf(svc.address)).toBase58()).toBe(svc.ledger.toBase58())
    const fields = Mina.getAccount(svc.address).zkapp!.appState.map((f) => f.toBigInt())
    expect(ledgerAddressOf(fields)).toBe(svc.ledger.toBase58())
  })

  it('refuses a ledger key with an odd y (the service keeps its x only)', async () => {
    let odd = seededKey(77_000)
    for (let s = 77_001; !odd.toPublicKey().isOdd.toBoolean(); s++) odd = seededKey(s)
    await expect(
      client.deployService(chain.payer, seededKey(77_500), odd, {
        sourceCommitment: svc.address.x,
        descriptorCid: [svc.address.x, svc.address.x],
        pricePerJob: UInt64.from(10),
        withdrawTimelockSlots: UInt32.from(50),
        runner: svc.runnerKey.toPublicKey(),
        workerKeyHash: svc.address.x,
      }),
    ).rejects.toThrow(ServiceErrors.ledgerKeyOdd)
  })

  it('deposits move credits into the ledger vault and count as fundable at once', async () => {
    const user = chain.users[0]!
    const before = await client.readCredits(user.toPublicKey())
    await client.deposit(chain.payer, svc.address, user, user.toPublicKey(), 500n)
    expect(await client.readFundable(svc.address, user.toPublicKey())).toBe(500n)
    expect(await client.readEscrow(svc.address)).toBe(500n)
    expect(await client.readCredits(user.toPublicKey())).toBe(before - 500n)
    // Nothing lands at the service address: it holds no credits.
    expect(balanceOf(svc.address, creditTokenId())).toBe(0n)
  })

  it('a claim lowers the fundable deposit at once; its batch pays the runner, who redeems', async () => {
    const user = chain.users[0]!
    const v = chain.voucher(user, svc, 320n, 1n)
    await chain.claimResults(svc, user.toPublicKey(), testDigests(32), v)
    expect(await client.readFundable(svc.address, user.toPublicKey())).toBe(180n)
    expect(await client.processBatches(chain.payer, svc.address, svc.runnerKey.toPublicKey())).toBe(
      1,
    )
    const runner = svc.runnerKey.toPublicKey()
    expect(balanceOf(runner, TokenId.derive(svc.ledger))).toBe(320n)
    await client.redeem(chain.payer, svc.address, svc.runnerKey, 320n)
    expect(await client.readCredits(runner)).toBe(320n)
    expect(await client.readEscrow(svc.address)).toBe(180n)
    expect(await client.readFundable(svc.address, user.toPublicKey())).toBe(180n)
  })

  it('withdraws the remainder after the timelock: request, withdraw, batch, refund', async () => {
    const user = chain.users[0]!
    const slot0 = Number(chain.local.getNetworkState().globalSlotSinceGenesis.toBigint())
    await client.requestWithdraw(chain.payer, svc.address, user, 1n)
    // A pending withdrawal funds no new job.
    expect(await client.readFundable(svc.address, user.toPublicKey())).toBe(0n)
    chain.local.setGlobalSlot(UInt32.from(slot0 + 10 + 50))
    await client.withdraw(chain.payer, svc.address, user)
    await client.processBatches(chain.payer, svc.address, svc.runnerKey.toPublicKey())
    const before = await client.readCredits(user.toPublicKey())
    await client.refund(chain.payer, svc.address, user)
    expect(await client.readCredits(user.toPublicKey())).toBe(before + 180n)
    expect(await client.readEscrow(svc.address)).toBe(0n)
    expect(await client.readFundable(svc.address, user.toPublicKey())).toBe(0n)
  })

  it('a deposit proved unsigned lands once the wallet signs it, as Auro does', async () => {
    // The page proves without the key; the wallet signs the fee payer and the account updates its
    // key authorizes with mina-signer and sends. mina-signer 3 signs o1js 2's transaction layout
    // (mina-signer 4 is for the Mesa layout, 32 state fields).
    const user = chain.users[2]!
    const sign = (json: string) => {
      const command = JSON.parse(json) as { feePayer: { body: { nonce: string } } }
      return new Client({ network: 'devnet' }).signZkappCommand(
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
      ).data.zkappCommand
    }
    const before = await client.readFundable(svc.address, user.toPublicKey())
    const json = await client.proveDeposit(user.toPublicKey(), svc.address, user.toPublicKey(), 70n)
    const pending = await Mina.Transaction.fromJSON(sign(json)).send()
    expect(pending.status).toBe('pending')
    expect(await client.readFundable(svc.address, user.toPublicKey())).toBe(before + 70n)
    // Unsigned, it is refused. Last in this file: o1js 2.15's LocalBlockchain records the actions
    // of a refused transaction too (a real node does not), so the book read after it would count
    // this deposit.
    const unsigned = await client.proveDeposit(
      user.toPublicKey(),
      svc.address,
      user.toPublicKey(),
      5n,
    )
    await expect(Mina.Transaction.fromJSON(unsigned).send()).rejects.toThrow(/signature/i)
  })
})

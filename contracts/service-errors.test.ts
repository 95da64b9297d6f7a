import {
  AccountUpdate,
  Field,
  Mina,
  Permissions,
  type PrivateKey,
  UInt32,
  UInt64,
  VerificationKey,
} from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { serviceAvailability } from '../protocol/index.ts'
import { ChannelLedger } from './channel-ledger.ts'
import * as client from './client.ts'
import { CreditToken, creditTokenAddress, creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { startTestChain, type TestChain, type TestService } from './test-chain.ts'

let chain: TestChain
let svc: TestService
let alice: PrivateKey
let bob: PrivateKey

/** Sends a transaction signed by `keys` and returns the rejection message (or '' when applied). */
async function rejection(keys: PrivateKey[], body: () => Promise<void>): Promise<string> {
  try {
    const tx = await Mina.transaction({ sender: chain.payer.key.toPublicKey(), fee: 1e8 }, body)
    await tx.prove()
    await tx.sign([chain.payer.key, ...keys]).send()
    return ''
  } catch (e) {
    return String(e)
  }
}

beforeAll(async () => {
  chain = await startTestChain({ users: 3 })
  svc = await chain.deployService({ price: 10n, timelock: 50 })
  ;[alice, bob] = chain.users as [PrivateKey, PrivateKey]
  await client.deposit(chain.payer, svc.address, alice, alice.toPublicKey(), 300n)
  // Heartbeats name recent slots: start well past genesis.
  chain.local.setGlobalSlot(UInt32.from(100))
})

describe("the money is the ledger's", () => {
  it('ledger receipts cannot be transferred', async () => {
    const ledger = new ChannelLedger(svc.ledger)
    const msg = await rejection([bob], async () => {
      await ledger.transfer(bob.toPublicKey(), alice.toPublicKey(), UInt64.from(1))
    })
    expect(msg).toContain(ServiceErrors.receiptsNotTransferable)
  })
  it('neither the ledger key nor the service key can drain the escrow', async () => {
    const token = new CreditToken(creditTokenAddress())
    for (const [key, from] of [
      [svc.ledgerKey, svc.ledger],
      [svc.key, svc.address],
    ] as const) {
      const msg = await rejection([key], async () => {
        await token.transfer(from, bob.toPublicKey(), UInt64.from(1))
      })
      expect(msg).not.toBe('')
    }
    expect(await client.readEscrow(svc.address)).toBe(300n)
  })
})

describe('frozen service version', () => {
  const attempt = (edit: (au: AccountUpdate) => void | Promise<void>, ledger = false) =>
    rejection([ledger ? svc.ledgerKey : svc.key], async () => {
      const au = AccountUpdate.createSigned(ledger ? svc.ledger : svc.address)
      await edit(au)
    })

  it('refuses changing a frozen field by signature', async () => {
    const msg = await attempt((au) => {
      au.body.update.appState[0] = { isSome: Field(1).equals(1), value: Field(1) }
    })
    expect(msg).toMatch(/Update_not_permitted_app_state|Update_not_permitted_access/)
    const state = await client.readServiceState(svc.address)
    expect(state.sourceCommitment).not.toBe(1n)
  })
  it('refuses changing the verification key, of the service and of its ledger', async () => {
    const vk = await VerificationKey.dummy()
    for (const ledger of [false, true]) {
      const msg = await attempt((au) => {
        au.account.verificationKey.set(vk)
      }, ledger)
      expect(msg).toMatch(/'verificationKey' because permission for this field is 'Impossible'/)
    }
  })
  it('refuses changing permissions, of the service and of its ledger', async () => {
    for (const ledger of [false, true]) {
      const msg = await attempt((au) => {
        au.account.permissions.set(Permissions.default())
      }, ledger)
      expect(msg).toMatch(/'permissions' because permission for this field is 'Impossible'/)
    }
  })
  it("refuses changing the ledger's state or minting its receipts by signature", async () => {
    const msg = await attempt((au) => {
      au.body.update.appState[2] = { isSome: Field(1).equals(1), value: Field(1) }
    }, true)
    expect(msg).toMatch(/Update_not_permitted_app_state|Update_not_permitted_access/)
  })
  it('is deployed with the freezing permissions', () => {
    const p = Mina.getAccount(svc.address).permissions
    expect(p.setVerificationKey.auth.constant.toBoolean()).toBe(true)
    expect(p.setVerificationKey.auth.signatureNecessary.toBoolean()).toBe(true)
    expect(p.setPermissions.constant.toBoolean()).toBe(true)
    expect(p.editState.signatureNecessary.toBoolean()).toBe(false)
    expect(p.access.signatureNecessary.toBoolean()).toBe(false)
    const vault = Mina.getAccount(svc.ledger, creditTokenId()).permissions
    expect(vault.send.signatureNecessary.toBoolean()).toBe(false)
    expect(vault.setVerificationKey.auth.constant.toBoolean()).toBe(true)
  })
})

describe('heartbeat and disabled service', () => {
  it('refuses a stale slot, a forged signature and a stranger', async () => {
    const now = chain.local.getNetworkState().globalSlotSinceGenesis.toBigint()
    const stale = now - 11n
    await expect(
      client.heartbeat(
        chain.payer,
        svc.address,
        svc.runnerKey.toPublicKey(),
        stale,
        chain.heartbeatSign(svc, stale),
      ),
    ).rejects.toThrow(ServiceErrors.staleHeartbeat)
    await expect(
      client.heartbeat(
        chain.payer,
        svc.address,
        svc.runnerKey.toPublicKey(),
        now,
        chain.heartbeatSign(svc, now, bob),
      ),
    ).rejects.toThrow(ServiceErrors.badHeartbeatSignature)
    await expect(
      client.heartbeat(
        chain.payer,
        svc.address,
        bob.toPublicKey(),
        now,
        chain.heartbeatSign(svc, now, bob),
      ),
    ).rejects.toThrow(ServiceErrors.notRunner)
  })
  it('records a fresh heartbeat and refuses an older one', async () => {
    const now = chain.local.getNetworkState().globalSlotSinceGenesis.toBigint()
    await client.heartbeat(
      chain.payer,
      svc.address,
      svc.runnerKey.toPublicKey(),
      now,
      chain.heartbeatSign(svc, now),
    )
    const state = await client.readServiceState(svc.address)
    expect(state.heartbeat.lastHeartbeatSlot).toBe(now)
    await expect(
      client.heartbeat(
        chain.payer,
        svc.address,
        svc.runnerKey.toPublicKey(),
        now,
        chain.heartbeatSign(svc, now),
      ),
    ).rejects.toThrow(ServiceErrors.heartbeatNotNewer)
  })
  it('reports the service disabled from chain state when stale or unfunded', async () => {
    const state = await client.readServiceState(svc.address)
    const now = chain.local.getNetworkState().globalSlotSinceGenesis.toBigint()
    const deposit = await client.readFundable(svc.address, alice.toPublicKey())
    const paid = 0n
    // The protocol's one availability rule, on the state the real contract wrote.
    const base = { heartbeat: state.heartbeat, maxHeartbeatAgeSlots: 20n }
    const price = state.terms.pricePerJob
    const funding = { deposit, owed: paid, pricePerJob: price }
    expect(serviceAvailability({ ...base, currentSlot: now, funding })).toEqual({ enabled: true })
    expect(serviceAvailability({ ...base, currentSlot: now + 21n, funding })).toEqual({
      enabled: false,
      reason: 'stale-heartbeat',
    })
    expect(
      serviceAvailability({
        ...base,
        currentSlot: now,
        funding: { deposit, owed: deposit - 9n, pricePerJob: price },
      }),
    ).toEqual({ enabled: false, reason: 'insufficient-deposit' })
  })
})

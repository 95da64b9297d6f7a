import {
  AccountUpdate,
  Field,
  Mina,
  Permissions,
  type PrivateKey,
  Signature,
  UInt32,
  UInt64,
  VerificationKey,
} from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import { digestToFields, serviceAvailability, unwrap } from '../protocol/index.ts'
import { Channel } from './channel.ts'
import * as client from './client.ts'
import { CreditToken, creditTokenAddress, creditTokenId } from './credit-token.ts'
import { ServiceErrors } from './errors.ts'
import { ServiceContract, SettleClaim, VoucherFields } from './service-contract.ts'
import { startTestChain, type TestChain, type TestService, testDigests } from './test-chain.ts'

let chain: TestChain
let svc: TestService
let alice: PrivateKey
let bob: PrivateKey

const leavesCid: [Field, Field] = [Field(0x55n << 128n), Field(1)]

async function settleWith(
  o: {
    voucherKey?: PrivateKey
    runnerKey?: PrivateKey
    runnerParam?: PrivateKey
    amount?: bigint
    nonce?: bigint
    /** Results in the user's tree after the settlement (each pays one price). */
    jobs?: number
    /** Sent in place of the leaves CID the runner signed. */
    leavesCid?: [Field, Field]
  } = {},
) {
  const v = chain.voucher(o.voucherKey ?? alice, svc, o.amount ?? 100n, o.nonce ?? 1n)
  return chain.settleResults(svc, alice.toPublicKey(), testDigests(o.jobs ?? 10), v, {
    runnerKey: o.runnerKey,
    runnerParam: o.runnerParam,
    sentLeavesCid: o.leavesCid,
  })
}

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
})

describe('settle refuses', () => {
  it('a forged runner signature', async () => {
    await expect(settleWith({ runnerKey: bob })).rejects.toThrow(ServiceErrors.badRunnerSignature)
  })
  it('a leaves CID other than the one the runner signed (no front-running the runner)', async () => {
    const elsewhere: [Field, Field] = [leavesCid[0], leavesCid[1].add(1)]
    await expect(settleWith({ leavesCid: elsewhere })).rejects.toThrow(
      ServiceErrors.badRunnerSignature,
    )
  })
  it('a settlement by a stranger (runner key not the service’s)', async () => {
    await expect(settleWith({ runnerParam: bob })).rejects.toThrow(ServiceErrors.notRunner)
  })
  it('a voucher not signed by the user', async () => {
    await expect(settleWith({ voucherKey: bob })).rejects.toThrow(ServiceErrors.badVoucherSignature)
  })
  it('results beyond the deposit', async () => {
    await expect(settleWith({ amount: 310n, jobs: 31 })).rejects.toThrow(
      ServiceErrors.voucherAboveDeposit,
    )
  })
  it('a replayed voucher, and a stale one', async () => {
    await settleWith({ amount: 100n, nonce: 5n })
    await expect(settleWith({ amount: 100n, nonce: 5n })).rejects.toThrow(
      ServiceErrors.staleVoucher,
    )
    await expect(settleWith({ amount: 200n, nonce: 4n, jobs: 20 })).rejects.toThrow(
      ServiceErrors.staleVoucher,
    )
    await expect(settleWith({ amount: 100n, nonce: 6n, jobs: 11 })).rejects.toThrow(
      ServiceErrors.voucherBelowResults,
    )
    expect(await client.readCredits(svc.runnerKey.toPublicKey())).toBe(100n)
  })
  it('a channel that does not match the root', async () => {
    const fake = svc.book.get(alice.toPublicKey())
    svc.book.apply(alice.toPublicKey(), new Channel({ ...fake, paidSoFar: UInt64.zero }))
    await expect(settleWith({ amount: 250n, nonce: 9n, jobs: 25 })).rejects.toThrow()
    svc.book.apply(alice.toPublicKey(), fake)
  })
  it('a settlement that bypasses the vault (nobody pays the runner)', async () => {
    const v = chain.voucher(alice, svc, 150n, 7n)
    const service = new ServiceContract(svc.address)
    const owner = { service: svc.address.toBase58(), user: alice.toPublicKey().toBase58() }
    const results = client.settledResults(owner, testDigests(15))
    const [hi, lo] = unwrap(digestToFields(results.proof.lastDigest))
    const call = () =>
      service.settle(
        svc.book.snapshot(),
        alice.toPublicKey(),
        svc.book.get(alice.toPublicKey()),
        new VoucherFields({ cumulativeAmount: UInt64.from(150), nonce: UInt64.from(7) }),
        Signature.fromBase58(v.signature),
        new SettleClaim({
          resultsRoot: results.root,
          resultsCount: UInt32.from(15),
          leavesCid0: leavesCid[0],
          leavesCid1: leavesCid[1],
          lastDigestHi: Field(hi),
          lastDigestLo: Field(lo),
        }),
        results.proof.lastWitness,
        results.proof.nextWitness,
        svc.runnerKey.toPublicKey(),
        Signature.fromBase58(chain.runnerSign(svc, alice.toPublicKey(), results, leavesCid, v)),
      )
    // alone: the runner's credit update would use the token without its approval
    expect(await rejection([], async () => void (await call()))).toMatch(
      /can not use or pass on token permissions/,
    )
    // approved by the token, but with no vault paying: the credit token sees an unbalanced forest
    const token = new CreditToken(creditTokenAddress())
    const msg = await rejection([], async () => {
      await call()
      await token.approveAccountUpdate(service.self)
    })
    expect(msg).toMatch(/Token_owner_not_caller|unbalanced|Flash-minting|Invalid fee excess/i)
    expect(await client.readCredits(svc.runnerKey.toPublicKey())).toBe(100n)
  })
})

describe('deposits', () => {
  it('refuse zero', async () => {
    await expect(
      client.deposit(chain.payer, svc.address, bob, bob.toPublicKey(), 0n),
    ).rejects.toThrow(ServiceErrors.zeroDeposit)
  })
  it('from two users built against the same state both apply (same block)', async () => {
    const carol = chain.users[2]!
    const service = new ServiceContract(svc.address)
    const build = async (k: PrivateKey, amount: number) => {
      const tx = await Mina.transaction({ sender: k.toPublicKey(), fee: 1e8 }, async () => {
        AccountUpdate.fundNewAccount(k.toPublicKey(), 1)
        await service.deposit(k.toPublicKey(), k.toPublicKey(), UInt64.from(amount))
      })
      await tx.prove()
      return tx.sign([k])
    }
    const escrow = await client.readEscrow(svc.address)
    const t1 = await build(bob, 40)
    const t2 = await build(carol, 60)
    await t1.send()
    await t2.send()
    expect(await client.readDeposit(svc.address, bob.toPublicKey())).toBe(40n)
    expect(await client.readDeposit(svc.address, carol.toPublicKey())).toBe(60n)
    expect(await client.readEscrow(svc.address)).toBe(escrow + 100n)
  })
  it('receipts cannot be transferred', async () => {
    const service = new ServiceContract(svc.address)
    const msg = await rejection([bob], async () => {
      await service.transfer(bob.toPublicKey(), alice.toPublicKey(), UInt64.from(1))
    })
    expect(msg).toContain(ServiceErrors.receiptsNotTransferable)
  })
  it('the vault cannot be drained by the key holder', async () => {
    const token = new CreditToken(creditTokenAddress())
    const msg = await rejection([svc.key], async () => {
      await token.transfer(svc.address, bob.toPublicKey(), UInt64.from(1))
    })
    expect(msg).toMatch(/Update_not_permitted_balance/)
  })
})

describe('withdraw refuses', () => {
  it('without a request', async () => {
    await expect(client.withdraw(chain.payer, svc.address, svc.book, bob)).rejects.toThrow(
      ServiceErrors.withdrawNotRequested,
    )
  })
  it('before the timelock, then pays the remainder after it', async () => {
    const slot = Number(chain.local.getNetworkState().globalSlotSinceGenesis.toBigint())
    await client.requestWithdraw(chain.payer, svc.address, svc.book, bob, 0n)
    chain.local.setGlobalSlot(UInt32.from(slot + 10 + 49))
    await expect(client.withdraw(chain.payer, svc.address, svc.book, bob)).rejects.toThrow(
      ServiceErrors.timelockNotOver,
    )
    chain.local.setGlobalSlot(UInt32.from(slot + 10 + 50))
    const before = await client.readCredits(bob.toPublicKey())
    await client.withdraw(chain.payer, svc.address, svc.book, bob)
    expect(await client.readCredits(bob.toPublicKey())).toBe(before + 40n)
    expect(await client.readDeposit(svc.address, bob.toPublicKey())).toBe(0n)
  })
})

describe('frozen service version', () => {
  const attempt = (edit: (au: AccountUpdate) => void | Promise<void>) =>
    rejection([svc.key], async () => {
      const au = AccountUpdate.createSigned(svc.address)
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
  it('refuses changing the verification key', async () => {
    const vk = await VerificationKey.dummy()
    const msg = await attempt((au) => {
      au.account.verificationKey.set(vk)
    })
    expect(msg).toMatch(/'verificationKey' because permission for this field is 'Impossible'/)
  })
  it('refuses changing permissions', async () => {
    const msg = await attempt((au) => {
      au.account.permissions.set(Permissions.default())
    })
    expect(msg).toMatch(/'permissions' because permission for this field is 'Impossible'/)
  })
  it('is deployed with the freezing permissions', () => {
    const p = Mina.getAccount(svc.address).permissions
    expect(p.setVerificationKey.auth.constant.toBoolean()).toBe(true)
    expect(p.setVerificationKey.auth.signatureNecessary.toBoolean()).toBe(true)
    expect(p.setPermissions.constant.toBoolean()).toBe(true)
    expect(p.editState.signatureNecessary.toBoolean()).toBe(false)
    expect(p.access.signatureNecessary.toBoolean()).toBe(false)
    const vault = Mina.getAccount(svc.address, creditTokenId()).permissions
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
    const deposit = await client.readDeposit(svc.address, alice.toPublicKey())
    const paid = svc.book.get(alice.toPublicKey()).paidSoFar.toBigInt()
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
    // and the contract agrees: results one job beyond the deposit do not settle
    const jobs = Number(deposit / 10n) + 1
    await expect(settleWith({ amount: deposit + 10n, nonce: 50n, jobs })).rejects.toThrow(
      ServiceErrors.voucherAboveDeposit,
    )
  })
})

import { FungibleToken } from 'mina-fungible-token'
import {
  AccountUpdate,
  Field,
  Mina,
  Permissions,
  type PrivateKey,
  Types,
  UInt32,
  UInt64,
  VerificationKey,
} from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  checkGenuineService,
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  type GenuineCode,
  UnsafeServiceCode,
  WITHDRAW_TIMELOCK_BOUNDS,
} from '../protocol/index.ts'
import * as client from './client.ts'
import { creditTokenAddress, creditTokenId } from './credit-token.ts'
import { dummyGenuineCode, readServiceAccounts } from './service-accounts.ts'
import { frozenServicePermissions, ServiceContract } from './service-contract.ts'
import { ServiceVault } from './service-vault.ts'
import { seededKey, startTestChain, type TestChain } from './test-chain.ts'

// Operators cannot take deposits: each attack an operator (the service key holder) can mount at
// deploy time, run on a LocalBlockchain, and the readers' genuine-and-frozen check refusing it.

let chain: TestChain
let code: GenuineCode

const props = (seed: number) => ({
  sourceCommitment: Field(0xc0ffeen),
  descriptorCid: [Field(0x55n << 128n), Field(seed)] as [Field, Field],
  pricePerJob: UInt64.from(10),
  withdrawTimelockSlots: UInt32.from(Number(WITHDRAW_TIMELOCK_BOUNDS.min)),
  runner: seededKey(seed + 1).toPublicKey(),
  workerKeyHash: Field(42),
})

async function send(signers: PrivateKey[], body: () => Promise<void>) {
  const tx = await Mina.transaction(chain.payer.key.toPublicKey(), body)
  await tx.prove()
  await tx.sign([chain.payer.key, ...signers]).send()
}

beforeAll(async () => {
  chain = await startTestChain({ users: 2, credits: 10_000n })
  code = await dummyGenuineCode()
})

describe('operators cannot take deposits', () => {
  it('the frozen permission sets readers expect are the ones the contracts set', async () => {
    const s = await chain.deployService()
    const service = Types.Account.toJSON(Mina.getAccount(s.address)).permissions
    const vault = Types.Account.toJSON(Mina.getAccount(s.address, creditTokenId())).permissions
    expect(service).toMatchObject(FROZEN_SERVICE_PERMISSIONS)
    expect(vault).toMatchObject(FROZEN_VAULT_PERMISSIONS)
  })

  it('accepts a service deployed the genuine way (contract and vault, frozen)', async () => {
    const s = await chain.deployService()
    expect(checkGenuineService(await readServiceAccounts(s.address), code)).toEqual({
      genuine: true,
    })
  })

  it('refuses a fake vault: the genuine contract without its ServiceVault, escrow a plain account', async () => {
    const key = seededKey(7001)
    const address = key.toPublicKey()
    const user = chain.users[0]!
    const token = new FungibleToken(creditTokenAddress())
    await send([key], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await new ServiceContract(address).deploy(props(7001))
    })
    // The "escrow" a user pays into: a plain (service, credit token) account, seeded by transfer.
    await send([user], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await token.transfer(user.toPublicKey(), address, UInt64.from(2000))
    })
    const accounts = await readServiceAccounts(address)
    // The state decodes normally: a reader of zkappState alone would list it.
    expect((await client.readServiceState(address)).terms.pricePerJob).toBe(10n)
    expect(checkGenuineService(accounts, code)).toMatchObject({
      genuine: false,
      code: UnsafeServiceCode.NO_VAULT,
    })
    // What the check prevents: the service key moves the deposit out.
    const thief = seededKey(7002).toPublicKey()
    await send([key], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await token.transfer(address, thief, UInt64.from(2000))
    })
    expect(await client.readEscrow(address)).toBe(0n)
  })

  it('refuses a service whose permissions are not frozen', async () => {
    const key = seededKey(7101)
    const address = key.toPublicKey()
    await send([key], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 2)
      const service = new ServiceContract(address)
      await service.deploy(props(7101))
      // The operator's own deploy: the genuine code with signature-controlled permissions.
      service.account.permissions.set({
        ...frozenServicePermissions(),
        send: Permissions.signature(),
      })
      const vault = new ServiceVault(address, creditTokenId())
      await vault.deploy()
      await new FungibleToken(creditTokenAddress()).approveAccountUpdate(vault.self)
    })
    expect(checkGenuineService(await readServiceAccounts(address), code)).toEqual({
      genuine: false,
      code: UnsafeServiceCode.NOT_FROZEN,
      reason: 'service permission send is Signature, not Proof',
    })
  })

  it('refuses a service running other code (a verification key of another hash)', async () => {
    const key = seededKey(7201)
    const address = key.toPublicKey()
    const dummy = await VerificationKey.dummy()
    await send([key], async () => {
      AccountUpdate.fundNewAccount(chain.payer.key.toPublicKey(), 1)
      await new ServiceContract(address).deploy({
        ...props(7201),
        verificationKey: { data: dummy.data, hash: Field(123) },
      })
    })
    expect(checkGenuineService(await readServiceAccounts(address), code)).toMatchObject({
      genuine: false,
      code: UnsafeServiceCode.WRONG_CODE,
    })
  })

  it('refuses a frozen code whose freeze was made for another transaction version', async () => {
    const s = await chain.deployService()
    expect(
      checkGenuineService(await readServiceAccounts(s.address), { ...code, txnVersion: '4' }),
    ).toMatchObject({ genuine: false, code: UnsafeServiceCode.VK_UNFROZEN_BY_UPGRADE })
  })
})

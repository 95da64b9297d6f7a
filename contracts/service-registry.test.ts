import { Field, Mina, PrivateKey } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import * as client from './client.ts'
import { RegistryErrors } from './errors.ts'
import { ServiceRegistry } from './service-registry.ts'
import { seededKey, startTestChain, type TestChain } from './test-chain.ts'

let chain: TestChain
const registryKey = seededKey(7)

beforeAll(async () => {
  chain = await startTestChain({ users: 3 })
  await client.deployRegistry(chain.payer, registryKey)
})

describe('service registry', () => {
  it('lists versions from many operators, even when published in the same block', async () => {
    const registry = new ServiceRegistry(registryKey.toPublicKey())
    const [op1, op2] = chain.users as [PrivateKey, PrivateKey]
    const s1 = PrivateKey.random().toPublicKey()
    const s2 = PrivateKey.random().toPublicKey()
    const build = async (op: PrivateKey, service: typeof s1, cid: bigint) => {
      const tx = await Mina.transaction({ sender: op.toPublicKey(), fee: 1e8 }, async () => {
        await registry.publish(service, op.toPublicKey(), Field(cid), Field(1))
      })
      await tx.prove()
      return tx.sign([op])
    }
    const t1 = await build(op1, s1, 11n)
    const t2 = await build(op2, s2, 22n)
    await t1.send()
    await t2.send()
    await client.publishService(chain.payer, registryKey.toPublicKey(), op1, s2, [33n, 1n])
    const events = await registry.fetchEvents()
    const published = events
      .filter((e) => e.type === 'Published')
      .map((e) => e.event.data as unknown as { service: typeof s1; descriptorCid0: Field })
    expect(published.map((p) => p.descriptorCid0.toBigInt()).sort()).toEqual([11n, 22n, 33n])
  })

  it('refuses an empty CID and an unsigned operator', async () => {
    const op = chain.users[0]!
    await expect(
      client.publishService(chain.payer, registryKey.toPublicKey(), op, op.toPublicKey(), [0n, 0n]),
    ).rejects.toThrow(RegistryErrors.emptyCid)
    const stranger = chain.users[1]!
    const registry = new ServiceRegistry(registryKey.toPublicKey())
    const tx = await Mina.transaction(
      { sender: chain.payer.key.toPublicKey(), fee: 1e8 },
      async () => {
        await registry.publish(op.toPublicKey(), op.toPublicKey(), Field(1), Field(1))
      },
    )
    await tx.prove()
    // signed by someone else than the operator: the operator's account update has no signature
    await expect(tx.sign([chain.payer.key, stranger]).send()).rejects.toThrow()
  })
})

import { AccountUpdate, Field, fetchAccount, Mina, PrivateKey } from 'o1js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalChainNode, startLocalChain } from '../chain/index.ts'
import { Counter } from '../chain/test/counter.ts'
import { minaNetwork, useDummyProofs } from './network.ts'

// The local stack's chain does not verify proofs, so the stack marks its network not proving:
// o1js's Network would prove anyway (it ignores the flag), so the client puts in the dummy proof.
// Nothing is compiled here: a real proof could not even be attempted.

let node: LocalChainNode

beforeAll(async () => {
  node = await startLocalChain({ port: 0, proofsEnabled: false })
})
afterAll(async () => {
  await node?.close()
})

describe('a network marked not proving', () => {
  it('says so to o1js, and a proved method lands on a node that does not verify proofs with no compiled prover', async () => {
    const network = minaNetwork({
      mina: node.url,
      archive: node.archiveUrl,
      networkId: 'devnet',
      prove: false,
    })
    expect(network.proofsEnabled).toBe(false)
    expect(
      minaNetwork({ mina: node.url, archive: node.archiveUrl, networkId: 'devnet' }).proofsEnabled,
    ).toBe(true)
    Mina.setActiveInstance(network)
    const senderKey = PrivateKey.fromBase58(node.accounts[0]!.privateKey)
    const sender = senderKey.toPublicKey()
    const zkappKey = PrivateKey.random()
    const zkapp = new Counter(zkappKey.toPublicKey())
    await fetchAccount({ publicKey: sender })
    const deploy = await Mina.transaction({ sender, fee: 100_000_000 }, async () => {
      AccountUpdate.fundNewAccount(sender)
      await zkapp.deploy()
    })
    await useDummyProofs(deploy)
    await deploy.prove()
    await (await deploy.sign([senderKey, zkappKey]).send()).wait()

    await fetchAccount({ publicKey: sender })
    await fetchAccount({ publicKey: zkapp.address })
    const bump = await Mina.transaction({ sender, fee: 100_000_000 }, async () => {
      await zkapp.bump(Field(5))
    })
    // Without the dummy, o1js looks for a prover: the flag alone does not stop it.
    await expect(Promise.resolve(bump.prove())).rejects.toThrow(/no prover found/)
    await useDummyProofs(bump)
    await bump.prove()
    const authorized = bump.transaction.accountUpdates.filter((u) => u.authorization.proof)
    expect(authorized).toHaveLength(1)
    await (await bump.sign([senderKey]).send()).wait()
    await fetchAccount({ publicKey: zkapp.address })
    expect(zkapp.count.get().toString()).toBe('5')
  })
})

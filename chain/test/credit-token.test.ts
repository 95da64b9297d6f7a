import { resolve } from 'node:path'
import { Cache, Mina, PrivateKey, setBackend } from 'o1js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as client from '../../contracts/client.ts'
import { CreditAdmin } from '../../contracts/credit-admin.ts'
import { CreditToken } from '../../contracts/credit-token.ts'
import { type LocalChainNode, startLocalChain } from '../index.ts'

// The contracts client through Mina.Network against the node (proofs not verified): deploy the
// credit token, mint with an admin key that has no MINA account yet to a fresh key, read it back.
// The mint creates two accounts (the admin's, the recipient's credit account), both to be funded.

const CACHE_DIR = resolve(import.meta.dirname, '../../.zkrunner/o1js-cache')

let node: LocalChainNode

beforeAll(async () => {
  setBackend('native')
  const cache = Cache.FileSystem(CACHE_DIR)
  await CreditAdmin.compile({ cache })
  await CreditToken.compile({ cache })
  node = await startLocalChain({ port: 0, autoAdvance: false })
  Mina.setActiveInstance(
    Mina.Network({ networkId: node.networkId, mina: node.url, archive: node.archiveUrl }),
  )
})

afterAll(async () => {
  await node?.close()
})

describe('credit token through Mina.Network', () => {
  it('deploys, mints to a fresh key with a fresh admin key, and reads the balance', async () => {
    const payer = { key: PrivateKey.fromBase58(node.accounts[0]?.privateKey ?? '') }
    const adminKey = PrivateKey.random()
    await client.deployCreditToken(payer, {
      tokenKey: PrivateKey.random(),
      adminContractKey: PrivateKey.random(),
      admin: adminKey.toPublicKey(),
      symbol: 'CRED',
      decimals: 0,
      src: 'https://example.invalid/zkrunner/contracts/credit-token.ts',
    })
    const user = PrivateKey.random().toPublicKey()
    await (await client.mintCredits(payer, adminKey, user, 5n)).wait()
    expect(await client.readCredits(user)).toBe(5n)
    expect(await client.accountExists(adminKey.toPublicKey())).toBe(true)
  })
})

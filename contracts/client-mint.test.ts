import { Mina, PrivateKey } from 'o1js'
import { beforeAll, describe, expect, it } from 'vitest'
import * as client from './client.ts'
import { seededKey, TEST_TOKEN_KEY } from './test-chain.ts'

// Minting when the admin key has no MINA account yet: CreditAdmin's signature check is an account
// update of the admin key, which creates that account, so mintCredits must fund it as well as the
// recipient's credit account (once it was only the latter: Invalid_fee_excess).

let local: Awaited<ReturnType<typeof Mina.LocalBlockchain>>
let payer: client.FeePayer
const adminKey = seededKey(9001)

beforeAll(async () => {
  local = await Mina.LocalBlockchain({ proofsEnabled: false })
  Mina.setActiveInstance(local)
  payer = { key: local.testAccounts[0]!.key }
  await client.deployCreditToken(payer, {
    tokenKey: TEST_TOKEN_KEY,
    adminContractKey: seededKey(3),
    admin: adminKey.toPublicKey(),
    symbol: 'CRED',
    decimals: 0,
    src: 'https://example.invalid/zkrunner/contracts/credit-token.ts',
  })
})

describe('mintCredits with an admin key that has no MINA account', () => {
  it('funds the admin account and the new credit account, to a fresh key and to the payer', async () => {
    expect(await client.accountExists(adminKey.toPublicKey())).toBe(false)
    const fresh = PrivateKey.random().toPublicKey()
    await client.mintCredits(payer, adminKey, fresh, 5n)
    expect(await client.readCredits(fresh)).toBe(5n)
    expect(await client.accountExists(adminKey.toPublicKey())).toBe(true)
    // Admin and recipient accounts now both exist or not: each case funds what is missing.
    await client.mintCredits(payer, adminKey, payer.key.toPublicKey(), 7n)
    await client.mintCredits(payer, adminKey, fresh, 3n)
    expect(await client.readCredits(payer.key.toPublicKey())).toBe(7n)
    expect(await client.readCredits(fresh)).toBe(8n)
  })
})

import { fetchAccount, Mina, type PublicKey, Types, VerificationKey } from 'o1js'
import { type GenuineCode, parseServiceAccounts, type ServiceAccounts } from '../protocol/index.ts'
import { currentTxnVersion } from './compile.ts'
import { creditTokenId } from './credit-token.ts'

const isLocal = () => 'testAccounts' in Mina.activeInstance

// The accounts go through the same JSON shape and parser as a GraphQL answer, so the Node
// readers (stack, deploy CLI, tests) judge exactly what the Worker and the page judge.
async function accountJson(publicKey: PublicKey, tokenId?: ReturnType<typeof creditTokenId>) {
  if (!isLocal()) await fetchAccount({ publicKey, ...(tokenId ? { tokenId } : {}) })
  if (!Mina.hasAccount(publicKey, tokenId)) return null
  const json = Types.Account.toJSON(Mina.getAccount(publicKey, tokenId))
  return {
    zkappState: json.zkapp?.appState ?? null,
    balance: { total: json.balance },
    verificationKey: json.zkapp?.verificationKey ? { hash: json.zkapp.verificationKey.hash } : null,
    permissions: json.permissions,
  }
}

/** Both accounts of a service, `(service, MINA)` and `(service, credit token)`, as readers see them. */
export async function readServiceAccounts(service: PublicKey): Promise<ServiceAccounts> {
  const data = {
    service: await accountJson(service),
    vault: await accountJson(service, creditTokenId()),
  }
  const parsed = parseServiceAccounts(data)
  if (!parsed.ok) throw new Error(`unexpected account shape: ${parsed.message}`)
  return parsed.value
}

/**
 * The genuine code of a chain without proofs (LocalBlockchain with proofsEnabled false), where
 * every contract is deployed with o1js's dummy verification key: tests compare with this.
 */
export async function dummyGenuineCode(): Promise<GenuineCode> {
  const hash = (await VerificationKey.dummy()).hash.toString()
  return { serviceVkHash: hash, vaultVkHash: hash, txnVersion: currentTxnVersion() }
}

import { Mina, type PublicKey, TokenId, Types, VerificationKey } from 'o1js'
import {
  type GenuineCode,
  parseServiceAccounts,
  type ServiceAccounts,
  serviceAccountsQuery,
  stopSlotsOf,
  type UpgradeNotice,
  upgradeNotice,
} from '../protocol/index.ts'
import { currentTxnVersion } from './compile.ts'
import { creditTokenId } from './credit-token.ts'

const isLocal = () => 'testAccounts' in Mina.activeInstance

// A LocalBlockchain has no GraphQL: its accounts go through the same JSON shape and parser as a
// GraphQL answer, so the tests judge exactly what the Worker and the page judge.
function localAccountJson(publicKey: PublicKey, tokenId?: ReturnType<typeof creditTokenId>) {
  if (!Mina.hasAccount(publicKey, tokenId)) return null
  const json = Types.Account.toJSON(Mina.getAccount(publicKey, tokenId))
  return {
    zkappState: json.zkapp?.appState ?? null,
    balance: { total: json.balance },
    verificationKey: json.zkapp?.verificationKey ? { hash: json.zkapp.verificationKey.hash } : null,
    permissions: json.permissions,
  }
}

/**
 * Both accounts of a service, `(service, MINA)` and `(service, credit token)`, as readers see them.
 * On a network they are read with the protocol's own GraphQL query (the one the Worker and the
 * page send), at `graphqlUrl`, never through o1js's `fetchAccount`: o1js 2.15 parses a fetched
 * account's permissions with `Permissions.fromJSON`, which turns `setVerificationKey`
 * `{ auth, txnVersion }` into a bare auth, so a frozen service read back through its cache shows
 * `setVerificationKey` as None and no transaction version.
 */
export async function readServiceAccounts(
  service: PublicKey,
  graphqlUrl?: string,
): Promise<ServiceAccounts> {
  let data: unknown
  if (isLocal()) {
    data = {
      service: localAccountJson(service),
      vault: localAccountJson(service, creditTokenId()),
    }
  } else {
    if (!graphqlUrl) throw new Error('readServiceAccounts on a network needs its GraphQL URL')
    const query = serviceAccountsQuery(service.toBase58(), TokenId.toBase58(creditTokenId()))
    data = await graphqlRead(graphqlUrl, query)
  }
  const parsed = parseServiceAccounts(data)
  if (!parsed.ok) throw new Error(`unexpected account shape: ${parsed.message}`)
  return parsed.value
}

/** Sends a read-only GraphQL document to a Mina node and returns its `data`, or throws. */
export async function graphqlRead(graphqlUrl: string, query: string): Promise<unknown> {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  })
  if (!res.ok) throw new Error(`GraphQL ${graphqlUrl} answered ${res.status}`)
  const body = (await res.json()) as { data?: unknown; errors?: unknown }
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors).slice(0, 300)}`)
  return body.data
}

/**
 * What the node announces of a hard fork (its `runtimeConfig` stop slots) against its best
 * tip's slot: the deploy CLI's `status` says it, as the page does.
 */
export async function readUpgradeNotice(graphqlUrl: string): Promise<UpgradeNotice> {
  const data = (await graphqlRead(
    graphqlUrl,
    '{ runtimeConfig bestChain(maxLength: 1) { protocolState { consensusState { slotSinceGenesis } } } }',
  )) as {
    runtimeConfig?: unknown
    bestChain?: { protocolState?: { consensusState?: { slotSinceGenesis?: string } } }[]
  }
  const slot = data.bestChain?.[0]?.protocolState?.consensusState?.slotSinceGenesis
  if (slot === undefined || !/^\d{1,10}$/.test(slot)) throw new Error('no best tip slot')
  return upgradeNotice(stopSlotsOf(data.runtimeConfig), BigInt(slot))
}

/**
 * The genuine code of a chain without proofs (LocalBlockchain with proofsEnabled false), where
 * every contract is deployed with o1js's dummy verification key: tests compare with this.
 */
export async function dummyGenuineCode(): Promise<GenuineCode> {
  const hash = (await VerificationKey.dummy()).hash.toString()
  return { serviceVkHash: hash, vaultVkHash: hash, txnVersion: currentTxnVersion() }
}

import { Mina, PublicKey, TokenId, Types, VerificationKey } from 'o1js'
import {
  EMPTY_ACTION_STATE,
  type GenuineCode,
  type LedgerSources,
  readLedgerSolvency,
  readServiceAccountsWith,
  type ServiceAccounts,
  type SolvencyVerdict,
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
    actionState: json.zkapp?.actionState ?? null,
  }
}

/**
 * Every account a reader judges a service by (the service, and its ledger's two accounts at the
 * address the service names), read as readers read them. On a network they are read with the
 * protocol's own GraphQL documents (the ones the Worker and the page send), at `graphqlUrl`,
 * never through o1js's `fetchAccount`: o1js 2.15 parses a fetched account's permissions with
 * `Permissions.fromJSON`, which turns `setVerificationKey` `{ auth, txnVersion }` into a bare
 * auth, so a frozen service read back through its cache shows `setVerificationKey` as None and
 * no transaction version. A LocalBlockchain answers the same documents from its accounts.
 */
export async function readServiceAccounts(
  service: PublicKey,
  graphqlUrl?: string,
): Promise<ServiceAccounts> {
  const query = async (document: string): Promise<unknown> => {
    if (!isLocal()) {
      if (!graphqlUrl) throw new Error('readServiceAccounts on a network needs its GraphQL URL')
      return graphqlRead(graphqlUrl, document)
    }
    return localAnswer(document)
  }
  const read = await readServiceAccountsWith(
    query,
    service.toBase58(),
    TokenId.toBase58(creditTokenId()),
  )
  if (!read.ok) throw new Error(`unexpected account shape: ${read.message}`)
  return read.value
}

/**
 * A LocalBlockchain's answer to one of the protocol's account documents: each
 * `alias: account(publicKey: "…"[, token: "…"])` answered under its alias.
 */
function localAnswer(document: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const re = /(\w+): account\(publicKey: "([^"]+)"(?:, token: "([^"]+)")?\)/g
  for (const m of document.matchAll(re)) {
    const [, alias, key, token] = m
    out[alias!] = localAccountJson(
      PublicKey.fromBase58(key!),
      token ? TokenId.fromBase58(token) : undefined,
    )
  }
  return out
}

/**
 * A LocalBlockchain as the node and archive the protocol's ledger readers ask (readLedgerBook,
 * readLedgerSolvency): the node answers account documents as `localAnswer`, the archive its
 * `actions` document from the chain's action lists, one account update per list, up to the
 * `endActionState` it names. So tests run the readers' own code on a real chain's state.
 */
export function localLedgerSources(): LedgerSources {
  return {
    node: async (document) => localAnswer(document.replace(/\{ account\(/, '{ account: account(')),
    archive: async (document) => {
      const address = /address: "([^"]+)"/.exec(document)?.[1]
      const end = /endActionState: "([0-9]+)"/.exec(document)?.[1]
      if (!address) throw new Error('an archive document without an address')
      const lists = await Mina.fetchActions(PublicKey.fromBase58(address))
      if ('error' in lists) throw new Error(JSON.stringify(lists.error))
      const blocks = []
      let before = String(EMPTY_ACTION_STATE)
      for (const list of lists) {
        blocks.push({
          blockInfo: { height: blocks.length + 1 },
          actionState: { actionStateOne: list.hash, actionStateTwo: before },
          actionData: list.actions.map((data) => ({
            accountUpdateId: '1',
            data,
            transactionInfo: { status: 'applied', sequenceNumber: 0, zkappAccountUpdateIds: [1] },
          })),
        })
        before = list.hash
        if (list.hash === end) break
      }
      return { actions: blocks }
    },
  }
}

/**
 * The solvency of the ledger at `ledger` (protocol's readLedgerSolvency), read as the Worker and
 * the page read it: from the node at `urls.graphql` and the archive at `urls.archive` on a
 * network, from the LocalBlockchain's accounts and actions otherwise.
 */
export function readSolvency(
  ledger: string,
  urls?: { graphql: string; archive: string },
): Promise<SolvencyVerdict> {
  const sources: LedgerSources =
    isLocal() || !urls
      ? localLedgerSources()
      : {
          node: (d) => graphqlRead(urls.graphql, d),
          archive: (d) => graphqlRead(urls.archive, d),
        }
  return readLedgerSolvency(sources, ledger, TokenId.toBase58(creditTokenId()))
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
  return {
    serviceVkHash: hash,
    ledgerVkHash: hash,
    ledgerVaultVkHash: hash,
    txnVersion: currentTxnVersion(),
  }
}

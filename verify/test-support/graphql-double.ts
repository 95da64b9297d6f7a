import { createServer } from 'node:http'
import { buildSchema, graphql } from 'graphql'
import {
  channelsRootOf,
  decodeTerms,
  foldLedgerActions,
  LedgerState,
  ledgerAddressOf,
  ServiceState,
} from '../../protocol/index.ts'
import {
  genuineAccounts,
  genuineLedgerCode,
  genuineLedgerState,
  TEST_CREDIT_TOKEN_ID,
} from './genuine.ts'
import { actionStateOf, actionsOfClaims } from './ledger-double.ts'
import { CROSS_ORIGIN_HEADERS, listen, type RunningServer } from './trustless-gateway.ts'

// The subset of the Mina daemon and archive GraphQL schemas the page queries, answered by the
// reference `graphql` executor, so the page's documents must be valid GraphQL to get an answer.
const DAEMON = buildSchema(`
  type Balance { total: String! }
  type VerificationKeyWithHash { hash: String! }
  type VerificationKeyPermission { auth: String!, txnVersion: String! }
  type Permissions {
    editState: String! access: String! send: String! receive: String! setDelegate: String!
    setPermissions: String! setVerificationKey: VerificationKeyPermission! setZkappUri: String!
    editActionState: String! setTokenSymbol: String! incrementNonce: String! setVotingFor: String!
    setTiming: String!
  }
  type Account {
    zkappState: [String!]
    actionState: [String!]
    balance: Balance!
    verificationKey: VerificationKeyWithHash
    permissions: Permissions
  }
  type ConsensusState { slotSinceGenesis: String! }
  type ProtocolState { consensusState: ConsensusState! }
  type Block { protocolState: ProtocolState! }
  scalar JSON
  type Query {
    account(publicKey: String!, token: String): Account
    bestChain(maxLength: Int): [Block!]
    runtimeConfig: JSON!
  }
`)
const ARCHIVE = buildSchema(`
  input EventFilterOptionsInput { address: String!, tokenId: String, status: String, to: Int, from: Int }
  type TransactionInfo { status: String!, sequenceNumber: Int! }
  type EventData { accountUpdateId: String!, transactionInfo: TransactionInfo, data: [String]! }
  type BlockInfo { height: Int!, globalSlotSinceGenesis: Int!, chainStatus: String! }
  type EventOutput { blockInfo: BlockInfo, eventData: [EventData] }
  type MaxBlockHeightInfo { canonicalMaxBlockHeight: Int!, pendingMaxBlockHeight: Int! }
  type NetworkStateOutput { maxBlockHeight: MaxBlockHeightInfo }
  input ActionFilterOptionsInput { address: String!, tokenId: String, status: String, to: Int, from: Int, fromActionState: String, endActionState: String }
  type ActionTransactionInfo { status: String!, sequenceNumber: Int!, zkappAccountUpdateIds: [Int]! }
  type ActionData { accountUpdateId: String!, transactionInfo: ActionTransactionInfo, data: [String]! }
  type ActionStates { actionStateOne: String, actionStateTwo: String }
  type ActionBlockInfo { height: Int! }
  type ActionOutput { blockInfo: ActionBlockInfo, actionData: [ActionData], actionState: ActionStates! }
  type Query {
    events(input: EventFilterOptionsInput!): [EventOutput]!
    actions(input: ActionFilterOptionsInput!): [ActionOutput]!
    networkState: NetworkStateOutput!
  }
`)

/** Blocks one archive events query scans, as the archive node API's default limit. */
export const DOUBLE_BLOCK_RANGE = 10_000

/** One event in the double's archive: its block and, optionally, its block's status and order. */
export interface DoubleEvent {
  height: number
  data: bigint[]
  /** `canonical` unless said otherwise. */
  chainStatus?: string
  /** The transaction's sequence number in its block (0 unless said otherwise). */
  sequence?: number
}

/**
 * What the chain double knows: zkApp states, balances, the slot, and events per address. Every
 * zkApp is a genuine, frozen service (its vault under TEST_CREDIT_TOKEN_ID) unless listed in
 * `fakeVaults`, whose escrow is then a plain account.
 */
export interface ChainData {
  fakeVaults?: Set<string>
  states: Map<string, bigint[]>
  balances: Map<string, bigint>
  slot: bigint
  events: Map<string, DoubleEvent[]>
  /**
   * Ledger state fields written over what the ledger's actions give, by service (a key holder's
   * write before the freeze): the solvency check refuses such a ledger.
   */
  forgedLedgerState?: Map<string, Map<number, bigint>>
  /** The archive's highest block; the highest event's when absent. */
  tip?: number
  /** The daemon's `runtimeConfig.daemon` (a hard fork's stop slots); none when absent; null: a node with no `runtimeConfig` field (a GraphQL error). */
  daemon?: { slot_tx_end?: number; slot_chain_end?: number } | null
}

function tipOf(data: ChainData): number {
  if (data.tip !== undefined) return data.tip
  let tip = 1
  for (const list of data.events.values()) for (const e of list) tip = Math.max(tip, e.height)
  return tip
}

/** Serves `POST /graphql` (daemon) and `POST /archive` over `data`, read at query time. */
export async function startGraphqlDouble(
  data: ChainData,
): Promise<RunningServer & { queries: string[] }> {
  const queries: string[] = []
  const root = {
    account: ({ publicKey, token }: { publicKey: string; token?: string }) => {
      // A service's ledger lives at the address its state names: find whose it is.
      const ownerOf = [...data.states].find(([, st]) => ledgerAddressOf(st) === publicKey)
      if (ownerOf) {
        const [service, state] = ownerOf
        // Its actions follow from its Claim events; its batches processed every one.
        const actions = actionsOfClaims(data.events.get(publicKey) ?? [])
        const latest = actionStateOf(actions)
        const terms = decodeTerms(state[ServiceState.terms] ?? 0n)
        const { book, runnerPaid } = foldLedgerActions(actions, terms, latest)
        if (token === TEST_CREDIT_TOKEN_ID) {
          const fake = data.fakeVaults?.has(service)
          const code = genuineLedgerCode.ledgerVault
          // A solvent escrow unless a test records another: every credit deposited (none redeemed).
          let deposited = 0n
          for (const u of book.users()) deposited += book.get(u).deposited + book.get(u).refunded
          return {
            // The escrow: the balance recorded under the service's credit-token account.
            balance: { total: String(data.balances.get(`${service}:${token}`) ?? deposited) },
            verificationKey: fake ? null : { hash: String(code.vkHash) },
            permissions: fake ? null : code.permissions,
          }
        }
        if (!token) {
          // Its state is what those actions give (the solvency check rebuilds it).
          const ledgerState = genuineLedgerState(state, service).map(String)
          ledgerState[LedgerState.actionState] = String(latest)
          ledgerState[LedgerState.channelsRoot] = String(channelsRootOf(book))
          ledgerState[LedgerState.runnerPaid] = String(runnerPaid)
          for (const [i, v] of data.forgedLedgerState?.get(service) ?? [])
            ledgerState[i] = String(v)
          return {
            zkappState: ledgerState,
            actionState: [String(latest)],
            balance: { total: '0' },
            verificationKey: { hash: String(genuineLedgerCode.ledger.vkHash) },
            permissions: genuineLedgerCode.ledger.permissions,
          }
        }
      }
      const state = data.states.get(publicKey)
      const balance = data.balances.get(`${publicKey}:${token ?? ''}`)
      if (!state && balance === undefined) return null
      const code = state ? genuineAccounts(state, 0n, publicKey).service! : null
      return {
        zkappState: state?.map(String) ?? null,
        balance: { total: String(balance ?? 0n) },
        verificationKey: code ? { hash: String(code.vkHash) } : null,
        permissions: code?.permissions ?? null,
      }
    },
    bestChain: () => [
      { protocolState: { consensusState: { slotSinceGenesis: String(data.slot) } } },
    ],
    runtimeConfig: () => {
      if (data.daemon === null)
        throw new Error('Cannot query field "runtimeConfig" on type "query".')
      return { daemon: data.daemon ?? {} }
    },
    networkState: () => ({
      maxBlockHeight: { canonicalMaxBlockHeight: tipOf(data), pendingMaxBlockHeight: tipOf(data) },
    }),
    // A ledger's actions, one block each, up to `endActionState` (an unknown one is an error).
    actions: ({ input }: { input: { address: string; endActionState?: string } }) => {
      const actions = actionsOfClaims(data.events.get(input.address) ?? [])
      const states = actions.map((_, i) => String(actionStateOf(actions.slice(0, i + 1))))
      const end =
        input.endActionState === undefined
          ? states.length
          : states.indexOf(input.endActionState) + 1
      if (end === 0)
        throw new Error(`endActionState ${input.endActionState} is not an action state`)
      return actions.slice(0, end).map((a, i) => ({
        blockInfo: { height: i + 1 },
        actionState: {
          actionStateOne: states[i],
          actionStateTwo: i === 0 ? String(actionStateOf([])) : states[i - 1],
        },
        actionData: [
          {
            accountUpdateId: '1',
            transactionInfo: { status: 'applied', sequenceNumber: 0, zkappAccountUpdateIds: [1] },
            data: a.map(String),
          },
        ],
      }))
    },
    // Like the archive node API: `to` exclusive, and at most DOUBLE_BLOCK_RANGE blocks scanned,
    // the newest ones, so a query without a range silently loses older events.
    events: ({ input }: { input: { address: string; from?: number; to?: number } }) => {
      const to = input.to ?? tipOf(data) + 1
      const from = Math.max(input.from ?? 0, to - DOUBLE_BLOCK_RANGE)
      return (data.events.get(input.address) ?? [])
        .filter((e) => e.height >= from && e.height < to)
        .map((e) => ({
          blockInfo: {
            height: e.height,
            globalSlotSinceGenesis: e.height * 3,
            chainStatus: e.chainStatus ?? 'canonical',
          },
          eventData: [
            {
              accountUpdateId: '1',
              transactionInfo: { status: 'applied', sequenceNumber: e.sequence ?? 0 },
              data: e.data.map(String),
            },
          ],
        }))
    },
  }
  const server = createServer(async (req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CROSS_ORIGIN_HEADERS).end()
      return
    }
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const { query, variables } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
    queries.push(query)
    const schema = req.url?.startsWith('/archive') ? ARCHIVE : DAEMON
    const result = await graphql({
      schema,
      source: query,
      rootValue: root,
      variableValues: variables,
    })
    res.writeHead(200, { ...CROSS_ORIGIN_HEADERS, 'content-type': 'application/json' })
    res.end(JSON.stringify(result))
  })
  return { ...(await listen(server)), queries }
}

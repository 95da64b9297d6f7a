import { createServer } from 'node:http'
import { buildSchema, graphql } from 'graphql'
import { CROSS_ORIGIN_HEADERS, listen, type RunningServer } from './trustless-gateway.ts'

// The subset of the Mina daemon and archive GraphQL schemas the page queries, answered by the
// reference `graphql` executor, so the page's documents must be valid GraphQL to get an answer.
const DAEMON = buildSchema(`
  type Balance { total: String! }
  type Account { zkappState: [String!], balance: Balance! }
  type ConsensusState { slotSinceGenesis: String! }
  type ProtocolState { consensusState: ConsensusState! }
  type Block { protocolState: ProtocolState! }
  type Query {
    account(publicKey: String!, token: String): Account
    bestChain(maxLength: Int): [Block!]
  }
`)
const ARCHIVE = buildSchema(`
  input EventFilterOptionsInput { address: String!, tokenId: String, status: String, to: Int, from: Int }
  type EventData { accountUpdateId: String!, data: [String]! }
  type BlockInfo { height: Int!, globalSlotSinceGenesis: Int! }
  type EventOutput { blockInfo: BlockInfo, eventData: [EventData] }
  type Query { events(input: EventFilterOptionsInput!): [EventOutput]! }
`)

/** What the chain double knows: zkApp states, balances, the slot, and events per address. */
export interface ChainData {
  states: Map<string, bigint[]>
  balances: Map<string, bigint>
  slot: bigint
  events: Map<string, { height: number; data: bigint[] }[]>
}

/** Serves `POST /graphql` (daemon) and `POST /archive` over `data`, read at query time. */
export async function startGraphqlDouble(
  data: ChainData,
): Promise<RunningServer & { queries: string[] }> {
  const queries: string[] = []
  const root = {
    account: ({ publicKey, token }: { publicKey: string; token?: string }) => {
      const state = data.states.get(publicKey)
      const balance = data.balances.get(`${publicKey}:${token ?? ''}`)
      if (!state && balance === undefined) return null
      return {
        zkappState: state?.map(String) ?? null,
        balance: { total: String(balance ?? 0n) },
      }
    },
    bestChain: () => [
      { protocolState: { consensusState: { slotSinceGenesis: String(data.slot) } } },
    ],
    events: ({ input }: { input: { address: string } }) =>
      (data.events.get(input.address) ?? []).map((e) => ({
        blockInfo: { height: e.height, globalSlotSinceGenesis: e.height * 3 },
        eventData: [{ accountUpdateId: '1', data: e.data.map(String) }],
      })),
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

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { EMPTY_ACTION_STATE } from '../../protocol/ledger-actions.ts'
import type { FakeAccount, FakeAction } from './constants.ts'

export type { FakeAccount }

/** A running fake Mina GraphQL endpoint. */
export interface FakeMina {
  url: string
  /** Sets an account (`token` defaults to the MINA token). */
  setAccount(publicKey: string, account: FakeAccount, token?: string): void
  /** Appends one action (one account update, one block) to the zkApp at `publicKey`. */
  dispatch(publicKey: string, action: FakeAction, hidden?: boolean): void
  setSlot(slot: number): void
  /** Number of GraphQL queries answered. */
  queries(): number
  close(): Promise<void>
}

const MINA_TOKEN = 'wSHV2S4qX9jFsLjQo8r1BsMLH2ZRKsZx6EJd1sbozGPieEC4Jf'

const stateOf = (actions: readonly FakeAction[]): string =>
  actions.at(-1)?.state ?? String(EMPTY_ACTION_STATE)

/** The archive's `actions` answer for a list of actions, one account update per block. */
function archiveAnswer(actions: readonly FakeAction[]): unknown {
  return {
    actions: actions.map((a, i) => ({
      blockInfo: { height: i + 1 },
      actionState: {
        actionStateOne: a.state,
        actionStateTwo: stateOf(actions.slice(0, i)),
      },
      actionData: [
        {
          accountUpdateId: '1',
          data: a.data,
          transactionInfo: { status: 'applied', sequenceNumber: 0, zkappAccountUpdateIds: [1] },
        },
      ],
    })),
  }
}

/**
 * A tiny stand-in for the Mina GraphQL API: it answers exactly the documents the Worker sends
 * (o1js-style `account` and `bestChain` queries with inline arguments), in the node's shapes, and
 * at `/archive` the archive API's `actions` query. `POST /__fake/account`, `/__fake/dispatch` and
 * `/__fake/slot` let tests in another process set the chain.
 */
export async function startFakeMina(port = 0): Promise<FakeMina> {
  const accounts = new Map<string, FakeAccount>()
  let slot = 100
  let queries = 0
  const key = (pk: string, token?: string) => `${pk}|${token ?? MINA_TOKEN}`
  // `hidden`: the action lands on chain but the archive never lists it (a lying archive).
  const dispatch = (pk: string, action: FakeAction, hidden = false) => {
    const found = accounts.get(key(pk)) ?? {}
    const listed = found.archiveActions ?? found.actions ?? []
    accounts.set(key(pk), {
      ...found,
      actions: [...(found.actions ?? []), action],
      ...(hidden || found.archiveActions
        ? { archiveActions: hidden ? listed : [...listed, action] }
        : {}),
    })
  }

  const answer = (query: string): unknown => {
    const data: Record<string, unknown> = {}
    // Each `[alias:] account(publicKey: "…"[, token: "…"])` is answered under its alias.
    const accountQuery =
      /(?:(\w+):\s*)?account\(publicKey:\s*"([^"]+)"(?:,\s*token:\s*"([^"]+)")?\)/g
    for (const m of query.matchAll(accountQuery)) {
      const found = accounts.get(key(m[2]!, m[3]))
      data[m[1] ?? 'account'] = found
        ? {
            zkappState: found.zkappState ?? null,
            balance: { total: found.balance ?? '0' },
            verificationKey: found.verificationKey ?? null,
            permissions: found.permissions ?? null,
            actionState: found.zkappState
              ? [stateOf(found.actions ?? []), ...Array(4).fill(String(EMPTY_ACTION_STATE))]
              : null,
          }
        : null
    }
    if (/bestChain/.test(query)) {
      data.bestChain = [{ protocolState: { consensusState: { slotSinceGenesis: String(slot) } } }]
    }
    return { data }
  }

  const server = createServer((req, res) => {
    let text = ''
    req.on('data', (c) => {
      text += c
    })
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      try {
        const body = JSON.parse(text || '{}') as Record<string, unknown>
        if (req.url === '/__fake/account') {
          accounts.set(
            key(body.publicKey as string, body.token as string | undefined),
            body.account as FakeAccount,
          )
          res.end('{"ok":true}')
        } else if (req.url === '/__fake/dispatch') {
          dispatch(body.publicKey as string, body.action as FakeAction, body.hidden === true)
          res.end('{"ok":true}')
        } else if (req.url === '/archive') {
          queries++
          const query = String(body.query ?? '')
          const address = /address:\s*"([^"]+)"/.exec(query)?.[1] ?? ''
          const end = /endActionState:\s*"([0-9]+)"/.exec(query)?.[1]
          const found = accounts.get(key(address))
          const listed = found?.archiveActions ?? found?.actions ?? []
          // Up to the action state asked for, as the archive answers (all when it lists none).
          const upTo = listed.findIndex((a) => a.state === end)
          res.end(
            JSON.stringify({
              data: archiveAnswer(upTo < 0 ? listed : listed.slice(0, upTo + 1)),
            }),
          )
        } else if (req.url === '/__fake/slot') {
          slot = body.slot as number
          res.end('{"ok":true}')
        } else {
          queries++
          res.end(JSON.stringify(answer(String(body.query ?? ''))))
        }
      } catch {
        res.statusCode = 400
        res.end('{"errors":[{"message":"bad request"}]}')
      }
    })
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: `${url}/graphql`,
    setAccount: (pk, account, token) => accounts.set(key(pk, token), account),
    dispatch,
    setSlot: (s) => {
      slot = s
    },
    queries: () => queries,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

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
  /** Actions the archive has listed for the zkApp at `publicKey` (what its reads cost). */
  archiveListed(publicKey: string): number
  close(): Promise<void>
}

const MINA_TOKEN = 'wSHV2S4qX9jFsLjQo8r1BsMLH2ZRKsZx6EJd1sbozGPieEC4Jf'

const stateOf = (actions: readonly FakeAction[]): string =>
  actions.at(-1)?.state ?? String(EMPTY_ACTION_STATE)

/**
 * The archive's `actions` answer for a list of actions, one account update per block: those after
 * `fromActionState` (exclusive) up to `endActionState`, as the archive API lists them; an action
 * state it does not hold is an error, as there.
 */
function archiveAnswer(
  all: readonly FakeAction[],
  query: string,
): { actions: unknown[]; listed: number } | { error: string } {
  const from = /fromActionState:\s*"(\d+)"/.exec(query)?.[1]
  const end = /endActionState:\s*"(\d+)"/.exec(query)?.[1]
  const first = from === undefined ? 0 : all.findIndex((a) => a.state === from) + 1
  if (first === 0 && from !== undefined) return { error: `fromActionState ${from} is unknown` }
  // An end the (lying) list does not hold: the fake lists all it has, for the reader to refuse.
  let last = all.length
  if (end === String(EMPTY_ACTION_STATE)) last = 0
  else if (end !== undefined && all.some((a) => a.state === end))
    last = all.findIndex((a) => a.state === end) + 1
  const actions = all.slice(first, Math.max(first, last))
  return {
    listed: actions.length,
    actions: actions.map((a, j) => ({
      blockInfo: { height: first + j + 1 },
      actionState: {
        actionStateOne: a.state,
        actionStateTwo: stateOf(all.slice(0, first + j)),
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
 * at `/archive` the archive API's `actions` query. `POST /__fake/account`, `/__fake/dispatch`,
 * `/__fake/reorg`, `/__fake/lying-increment` and `/__fake/slot` let tests in another process set
 * the chain; `/__fake/archive-listed` says how many actions the archive listed for a ledger.
 */
export async function startFakeMina(port = 0): Promise<FakeMina> {
  const accounts = new Map<string, FakeAccount>()
  let slot = 100
  let queries = 0
  /** Actions the archive listed, per ledger address (what a read cost). */
  const listed = new Map<string, number>()
  /** Ledgers whose archive alters the first action of any answer listed from a kept state. */
  const lyingIncrement = new Set<string>()
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
          const k = key(body.publicKey as string, body.token as string | undefined)
          const before = body.keepActions === true ? accounts.get(k) : undefined
          accounts.set(k, {
            ...(body.account as FakeAccount),
            ...(before?.actions ? { actions: before.actions } : {}),
            ...(before?.archiveActions ? { archiveActions: before.archiveActions } : {}),
          })
          res.end('{"ok":true}')
        } else if (req.url === '/__fake/dispatch') {
          dispatch(body.publicKey as string, body.action as FakeAction, body.hidden === true)
          res.end('{"ok":true}')
        } else if (req.url === '/archive') {
          queries++
          const query = String(body.query ?? '')
          const address = /address:\s*"([^"]+)"/.exec(query)?.[1] ?? ''
          const found = accounts.get(key(address))
          const answer = archiveAnswer(found?.archiveActions ?? found?.actions ?? [], query)
          if ('error' in answer) {
            res.end(JSON.stringify({ data: null, errors: [{ message: answer.error }] }))
            return
          }
          listed.set(address, (listed.get(address) ?? 0) + answer.listed)
          const first = answer.actions[0] as { actionData: { data: string[] }[] } | undefined
          if (first && lyingIncrement.has(address) && /fromActionState/.test(query)) {
            // A deposit of one more credit than landed.
            const data = [...first.actionData[0]!.data]
            data[3] = String(BigInt(data[3]!) + 1n)
            first.actionData[0]!.data = data
          }
          res.end(JSON.stringify({ data: { actions: answer.actions } }))
        } else if (req.url === '/__fake/archive-listed') {
          res.end(JSON.stringify({ listed: listed.get(body.publicKey as string) ?? 0 }))
        } else if (req.url === '/__fake/lying-increment') {
          if (body.lie === true) lyingIncrement.add(body.publicKey as string)
          else lyingIncrement.delete(body.publicKey as string)
          res.end('{"ok":true}')
        } else if (req.url === '/__fake/reorg') {
          // The chain's last actions are orphaned: the ledger keeps its first `keep`.
          const found = accounts.get(key(body.publicKey as string)) ?? {}
          const keep = body.keep as number
          accounts.set(key(body.publicKey as string), {
            ...found,
            actions: (found.actions ?? []).slice(0, keep),
            ...(found.archiveActions
              ? { archiveActions: found.archiveActions.slice(0, keep) }
              : {}),
          })
          res.end('{"ok":true}')
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
    archiveListed: (pk) => listed.get(pk) ?? 0,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

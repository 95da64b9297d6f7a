import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FakeAccount } from './constants.ts'

export type { FakeAccount }

/** A running fake Mina GraphQL endpoint. */
export interface FakeMina {
  url: string
  /** Sets an account (`token` defaults to the MINA token). */
  setAccount(publicKey: string, account: FakeAccount, token?: string): void
  setSlot(slot: number): void
  /** Number of GraphQL queries answered. */
  queries(): number
  close(): Promise<void>
}

const MINA_TOKEN = 'wSHV2S4qX9jFsLjQo8r1BsMLH2ZRKsZx6EJd1sbozGPieEC4Jf'

/**
 * A tiny stand-in for the Mina GraphQL API: it answers exactly the documents the Worker sends
 * (o1js-style `account` and `bestChain` queries with inline arguments), in the node's shapes.
 * `POST /__fake/account` and `POST /__fake/slot` let tests in another process set the chain.
 */
export async function startFakeMina(port = 0): Promise<FakeMina> {
  const accounts = new Map<string, FakeAccount>()
  let slot = 100
  let queries = 0
  const key = (pk: string, token?: string) => `${pk}|${token ?? MINA_TOKEN}`

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

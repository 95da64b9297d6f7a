import { describe, expect, it } from 'vitest'
import {
  ActionKind,
  EMPTY_ACTION_STATE,
  nextActionState,
  publicKeyToFields,
} from '../protocol/index.ts'
import { MinaGraphqlReader } from './mina.ts'

// The Worker caches chain reads for a moment to spare the node from status polling; an admission
// reads the user's channel past that cache, so a deposit that just landed is seen (the local stack
// refused a job with `insufficient-deposit` on a fast machine: the balance was read 1 s before).
const USER = 'B62qnd1W3pcLTpEj6ecoVpco8uHaPHRpJHHiQTMS4abk2u2jWwc9Trc'
const LEDGER = 'B62qkzUATuPpDcqJ7W8pq381ihswvJ2HdFbE64GK2jP1xkqYUnmeuVA'
const terms = { pricePerJob: 10n, withdrawTimelockSlots: 50n }

function deposit(amount: bigint): string[] {
  const key = publicKeyToFields(USER)
  if (!key.ok) throw key.error
  return [ActionKind.deposit, key.value[0], key.value[1], amount, 0, 0, 0, 0].map(String)
}

describe('MinaGraphqlReader ledgerBook', () => {
  it('serves a cached book for its TTL, and a fresh read sees the chain now (and refreshes the cache)', async () => {
    const actions = [deposit(5n)]
    const urls: string[] = []
    const fetch = (async (url: string) => {
      urls.push(url)
      if (url.endsWith('/archive'))
        return Response.json({
          data: {
            actions: actions.map((data, i) => ({
              blockInfo: { height: i + 1 },
              actionData: [{ accountUpdateId: '1', data }],
            })),
          },
        })
      const state = actions.reduce(
        (s, a) => nextActionState(s, [a.map(BigInt)]),
        EMPTY_ACTION_STATE,
      )
      return Response.json({ data: { account: { actionState: [String(state)], zkappState: [] } } })
    }) as typeof globalThis.fetch
    const reader = new MinaGraphqlReader('http://node.invalid/graphql', { cacheMs: 60_000, fetch })
    const fundable = async (fresh = false) =>
      (await reader.ledgerBook(LEDGER, terms, { fresh })).book.fundable(USER)
    expect(await fundable()).toBe(5n)
    expect(urls).toEqual(['http://node.invalid/graphql', 'http://node.invalid/archive'])
    actions.push(deposit(20n)) // the deposit lands
    expect(await fundable()).toBe(5n)
    expect(urls).toHaveLength(2)
    expect(await fundable(true)).toBe(25n)
    expect(urls).toHaveLength(4)
    expect(await fundable()).toBe(25n)
    expect(urls).toHaveLength(4)
  })
})

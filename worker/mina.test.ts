import { describe, expect, it } from 'vitest'
import { MinaGraphqlReader } from './mina.ts'

// The Worker caches chain reads for a moment to spare the node from status polling; an admission
// reads the user's deposit past that cache, so a deposit that just landed is seen (the local stack
// refused a job with `insufficient-deposit` on a fast machine: the balance was read 1 s before).
describe('MinaGraphqlReader balance', () => {
  it('serves a cached balance for its TTL, and a fresh read sees the node now (and refreshes the cache)', async () => {
    let total = '5'
    let queries = 0
    const fetch = (async () => {
      queries++
      return Response.json({ data: { account: { balance: { total } } } })
    }) as typeof globalThis.fetch
    const reader = new MinaGraphqlReader('http://node.invalid/graphql', { cacheMs: 60_000, fetch })
    expect(await reader.balance('B62user', 'token')).toBe(5n)
    total = '25' // the deposit lands
    expect(await reader.balance('B62user', 'token')).toBe(5n)
    expect(queries).toBe(1)
    expect(await reader.balance('B62user', 'token', { fresh: true })).toBe(25n)
    expect(queries).toBe(2)
    expect(await reader.balance('B62user', 'token')).toBe(25n)
    expect(queries).toBe(2)
  })
})

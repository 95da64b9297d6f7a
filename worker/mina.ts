import { readServiceAccountsWith, type ServiceAccounts } from '../protocol/index.ts'
import { ApiError, ApiErrorCode } from './errors.ts'

/** What the Worker reads from the chain: narrow, so tests use a small fake GraphQL endpoint. */
export interface ChainReader {
  /** Both accounts of a service, `(service, MINA)` and `(service, credit token)`, for the genuine check. */
  serviceAccounts(service: string, creditTokenId: string): Promise<ServiceAccounts>
  /**
   * The balance of `(owner, tokenId)`; 0 when the account does not exist. `fresh` reads the node
   * now, past the cache (an admission must see a deposit that landed a moment ago).
   */
  balance(owner: string, tokenId: string, options?: { fresh?: boolean }): Promise<bigint>
  /** The global slot of the best tip. */
  currentSlot(): Promise<bigint>
}

/** Marks a cache entry that is only shared while its query is in flight (no TTL). */
const IN_FLIGHT = -1

const unavailable = (why: string) =>
  new ApiError(503, ApiErrorCode.CHAIN_UNAVAILABLE, `the Mina node did not answer: ${why}`)

// Inputs are validated base58 before they get here; quoting them is still the safe thing to do.
const literal = (s: string) => JSON.stringify(s)

const toBigint = (value: unknown): bigint => {
  if (typeof value === 'string' || typeof value === 'number') return BigInt(value)
  throw new TypeError('not a number')
}

/** Reads Mina GraphQL (the documents o1js sends), with a short cache per query. */
export class MinaGraphqlReader implements ChainReader {
  readonly #cache = new Map<string, { at: number; value: Promise<unknown> }>()

  constructor(
    readonly url: string,
    readonly options: { cacheMs?: number; timeoutMs?: number; fetch?: typeof fetch } = {},
  ) {}

  async #query(query: string): Promise<Record<string, unknown>> {
    const doFetch = this.options.fetch ?? fetch
    let res: Response
    try {
      res = await doFetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      })
    } catch {
      throw unavailable('request failed')
    }
    if (!res.ok) throw unavailable(`HTTP ${res.status}`)
    let body: { data?: Record<string, unknown>; errors?: { message?: string }[] }
    try {
      body = await res.json()
    } catch {
      throw unavailable('answer is not JSON')
    }
    if (body.data === undefined || body.data === null) {
      throw unavailable(body.errors?.[0]?.message ?? 'no data')
    }
    // A missing account is reported as an error next to `account: null` by some nodes: data wins.
    return body.data
  }

  #cached<T>(key: string, load: () => Promise<T>, fresh = false): Promise<T> {
    const ttl = this.options.cacheMs ?? 0
    const now = Date.now()
    const hit = fresh ? undefined : this.#cache.get(key)
    if (hit && now - hit.at < ttl) return hit.value as Promise<T>
    if (hit && ttl === 0 && hit.at === IN_FLIGHT) return hit.value as Promise<T>
    const value = load()
    // Concurrent identical reads share one query; with a TTL the answer is reused for that long.
    this.#cache.set(key, { at: ttl > 0 ? now : IN_FLIGHT, value })
    value.then(
      () => {
        if (ttl === 0) this.#cache.delete(key)
      },
      // A failed read must not be served from the cache.
      () => this.#cache.delete(key),
    )
    if (this.#cache.size > 10_000) this.#cache.clear()
    return value
  }

  serviceAccounts(service: string, creditTokenId: string): Promise<ServiceAccounts> {
    return this.#cached(`accounts:${service}:${creditTokenId}`, async () => {
      const parsed = await readServiceAccountsWith(
        (document) => this.#query(document),
        service,
        creditTokenId,
      )
      if (!parsed.ok) throw unavailable(`service accounts: ${parsed.message}`)
      return parsed.value
    })
  }

  balance(owner: string, tokenId: string, options: { fresh?: boolean } = {}): Promise<bigint> {
    return this.#cached(
      `balance:${owner}:${tokenId}`,
      async () => {
        const data = await this.#query(
          `{ account(publicKey: ${literal(owner)}, token: ${literal(tokenId)}) { balance { total } } }`,
        )
        const account = data.account as { balance?: { total?: unknown } } | null | undefined
        if (!account) return 0n
        try {
          return toBigint(account.balance?.total)
        } catch {
          throw unavailable('balance is not a number')
        }
      },
      options.fresh,
    )
  }

  currentSlot(): Promise<bigint> {
    return this.#cached('slot', async () => {
      const data = await this.#query(
        '{ bestChain(maxLength: 1) { protocolState { consensusState { slotSinceGenesis } } } }',
      )
      const chain = data.bestChain as
        | { protocolState?: { consensusState?: { slotSinceGenesis?: unknown } } }[]
        | null
      try {
        return toBigint(chain?.[0]?.protocolState?.consensusState?.slotSinceGenesis)
      } catch {
        throw unavailable('bestChain has no slot')
      }
    })
  }
}

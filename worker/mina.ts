import {
  type LedgerProgress,
  LedgerReadError,
  type LedgerReading,
  readLedgerBook,
  readLedgerBookFrom,
  readLedgerSolvencyHead,
  readReceipts,
  readServiceAccountsWith,
  type ServiceAccounts,
  type ServiceTerms,
  type SolvencyHead,
} from '../protocol/index.ts'
import { ApiError, ApiErrorCode } from './errors.ts'

/** What the Worker reads from the chain: narrow, so tests use a small fake GraphQL endpoint. */
export interface ChainReader {
  /** Both accounts of a service, `(service, MINA)` and `(service, credit token)`, for the genuine check. */
  serviceAccounts(service: string, creditTokenId: string): Promise<ServiceAccounts>
  /**
   * Every channel of the ledger at `ledger`, folded from its actions (archive) checked against its
   * action state (node); a lying or lagging archive throws 503 `chain_unavailable`. `fresh` reads
   * now, past the cache (an admission must see a deposit that landed a moment ago).
   */
  ledgerBook(
    ledger: string,
    terms: ServiceTerms,
    options?: { fresh?: boolean },
  ): Promise<LedgerReading>
  /**
   * Continues `kept` (a reading an earlier call returned, or null) with only the actions after it,
   * at most `max` a call (protocol's readLedgerBookFrom; never cached: the caller keeps the
   * reading). Acting on it is only sound when `complete`; a lying archive throws 503.
   */
  ledgerBookFrom(
    ledger: string,
    terms: ServiceTerms,
    kept: LedgerReading | null,
    options?: { max?: number; processed?: boolean },
  ): Promise<LedgerProgress>
  /**
   * The ledger's and its vault's state at one moment, for the solvency check (protocol's
   * readLedgerSolvencyHead; one node document, never cached); unreadable throws 503.
   */
  ledgerSolvencyHead(ledger: string, creditTokenId: string): Promise<SolvencyHead>
  /**
   * The refund receipts of `users` (protocol's readReceipts: one node document per
   * RECEIPTS_PER_QUERY users; never cached); a user without a receipt account is left out.
   */
  ledgerReceipts(ledger: string, users: readonly string[]): Promise<Map<string, bigint>>
  /** The global slot of the best tip. */
  currentSlot(): Promise<bigint>
}

/** Marks a cache entry that is only shared while its query is in flight (no TTL). */
const IN_FLIGHT = -1

const unavailable = (why: string) =>
  new ApiError(503, ApiErrorCode.CHAIN_UNAVAILABLE, `the Mina node did not answer: ${why}`)

/** Bytes of one answer the Worker reads at most (a ledger's archive answer is the largest). */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024

const toBigint = (value: unknown): bigint => {
  if (typeof value === 'string' || typeof value === 'number') return BigInt(value)
  throw new TypeError('not a number')
}

/** Reads Mina GraphQL and the archive API (the documents o1js sends), with a short cache per query. */
export class MinaGraphqlReader implements ChainReader {
  readonly #cache = new Map<string, { at: number; value: Promise<unknown> }>()

  constructor(
    readonly url: string,
    readonly options: {
      cacheMs?: number
      timeoutMs?: number
      fetch?: typeof fetch
      /** The archive node API; defaults to `url`'s `/archive` sibling (the local chain's). */
      archiveUrl?: string
    } = {},
  ) {}

  async #query(query: string, url = this.url): Promise<Record<string, unknown>> {
    const doFetch = this.options.fetch ?? fetch
    let res: Response
    try {
      res = await doFetch(url, {
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
      const text = await res.text()
      if (text.length > MAX_ANSWER_BYTES) throw unavailable('the answer is too large')
      body = JSON.parse(text)
    } catch (err) {
      if (err instanceof ApiError) throw err
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

  ledgerBook(
    ledger: string,
    terms: ServiceTerms,
    options: { fresh?: boolean } = {},
  ): Promise<LedgerReading> {
    const archiveUrl = this.options.archiveUrl ?? this.url.replace(/\/graphql\/?$/, '/archive')
    return this.#cached(
      `ledger:${ledger}:${terms.pricePerJob}:${terms.withdrawTimelockSlots}`,
      async () => {
        try {
          return await readLedgerBook(
            { node: (d) => this.#query(d), archive: (d) => this.#query(d, archiveUrl) },
            ledger,
            terms,
          )
        } catch (err) {
          // Every failure refuses: a book the Worker cannot check admits nobody.
          if (err instanceof LedgerReadError)
            throw unavailable(`the ledger's actions (${err.code}): ${err.message}`)
          throw err
        }
      },
      options.fresh,
    )
  }

  async ledgerBookFrom(
    ledger: string,
    terms: ServiceTerms,
    kept: LedgerReading | null,
    options: { max?: number; processed?: boolean } = {},
  ): Promise<LedgerProgress> {
    try {
      return await readLedgerBookFrom(this.#ledgerSources(), ledger, terms, kept, options)
    } catch (err) {
      if (err instanceof LedgerReadError)
        throw unavailable(`the ledger's actions (${err.code}): ${err.message}`)
      throw err
    }
  }

  #ledgerSources() {
    const archiveUrl = this.options.archiveUrl ?? this.url.replace(/\/graphql\/?$/, '/archive')
    return {
      node: (d: string) => this.#query(d),
      archive: (d: string) => this.#query(d, archiveUrl),
    }
  }

  async ledgerSolvencyHead(ledger: string, creditTokenId: string): Promise<SolvencyHead> {
    try {
      return await readLedgerSolvencyHead(this.#ledgerSources(), ledger, creditTokenId)
    } catch (err) {
      // A ledger the Worker cannot judge admits nobody, as for the book.
      if (err instanceof LedgerReadError)
        throw unavailable(`the ledger's solvency (${err.code}): ${err.message}`)
      throw err
    }
  }

  async ledgerReceipts(ledger: string, users: readonly string[]): Promise<Map<string, bigint>> {
    try {
      return await readReceipts(this.#ledgerSources(), ledger, users)
    } catch (err) {
      if (err instanceof LedgerReadError)
        throw unavailable(`the ledger's refund receipts (${err.code}): ${err.message}`)
      throw err
    }
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

import {
  bookChannelFromJSON,
  bookChannelToJSON,
  LedgerBook,
  type LedgerProgress,
  type LedgerReading,
  type ServiceTerms,
} from '../protocol/index.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import type { ChainReader } from './mina.ts'

// A service's Durable Object keeps its ledger's last reading (action state, book) and continues it
// with only the actions landed since, instead of re-reading and re-hashing every action of the
// ledger on each admission (a stranger's spam of cheap actions made that refuse every admission
// past 20,000, and cost CPU below). The reading lives in memory and, so an evicted object resumes,
// in the object's SQLite storage one row per user channel (a book of many users would outgrow one
// stored value). Soundness does not rest on what is kept: protocol's readLedgerBookFrom makes a
// reading complete only when its hash chain meets the node's action state.

/** The tables the follower keeps (created by the object with its others). */
export const LEDGER_FOLLOWER_SCHEMA = `
  CREATE TABLE IF NOT EXISTS ledger_reading (
    key TEXT PRIMARY KEY, terms TEXT NOT NULL, action_state TEXT NOT NULL,
    runner_paid TEXT NOT NULL, ignored INTEGER NOT NULL, actions INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS ledger_channel (
    key TEXT NOT NULL, user TEXT NOT NULL, channel TEXT NOT NULL, PRIMARY KEY (key, user));
`

/** Where the follower stores: the object's SQL and its synchronous transaction. */
export interface FollowerStorage {
  sql: SqlStorage
  transactionSync<T>(fn: () => T): T
}

const termsKey = (t: ServiceTerms) => `${t.pricePerJob}:${t.withdrawTimelockSlots}`

/** Keeps and continues a ledger's reading for one Durable Object; concurrent reads share one. */
export class LedgerFollower {
  readonly #kept = new Map<string, LedgerReading>()
  readonly #reading = new Map<string, Promise<LedgerReading>>()
  /** What the last continuation cost (tests and the benchmark read it). */
  last: Pick<LedgerProgress, 'complete' | 'rebuilt' | 'listed' | 'folded'> | null = null

  constructor(
    readonly storage: FollowerStorage,
    readonly maxPerRead: number,
  ) {}

  /**
   * The ledger's complete, checked reading now: the kept one continued to the node's action state.
   * Concurrent callers share one continuation. A backlog past `maxPerRead` is kept as progress
   * and the read refuses (503 `chain_unavailable`): the next read continues from there.
   */
  read(
    chain: ChainReader,
    ledger: string,
    terms: ServiceTerms,
    options: { processed?: boolean } = {},
  ): Promise<LedgerReading> {
    const key = `${options.processed ? 'processed' : 'all'}:${ledger}`
    const running = this.#reading.get(key)
    if (running) return running
    const read = this.#continue(chain, key, ledger, terms, options).finally(() =>
      this.#reading.delete(key),
    )
    this.#reading.set(key, read)
    return read
  }

  async #continue(
    chain: ChainReader,
    key: string,
    ledger: string,
    terms: ServiceTerms,
    options: { processed?: boolean },
  ): Promise<LedgerReading> {
    const kept = this.#kept.get(key) ?? this.#load(key, terms)
    const progress = await chain.ledgerBookFrom(ledger, terms, kept, {
      max: this.maxPerRead,
      ...(options.processed ? { processed: true } : {}),
    })
    const { complete, rebuilt, listed, folded } = progress
    this.last = { complete, rebuilt, listed, folded }
    if (progress.reading !== kept) {
      const whole =
        kept === null ||
        rebuilt ||
        termsKey(kept.book.terms) !== termsKey(progress.reading.book.terms)
      this.#store(key, progress, whole)
      this.#kept.set(key, progress.reading)
    }
    if (!complete)
      throw new ApiError(
        503,
        ApiErrorCode.CHAIN_UNAVAILABLE,
        `the ledger's actions are being caught up (${progress.reading.book.actions} read so far, at most ${this.maxPerRead} a request): retry`,
      )
    return progress.reading
  }

  #load(key: string, terms: ServiceTerms): LedgerReading | null {
    const head = this.storage.sql
      .exec('SELECT * FROM ledger_reading WHERE key = ?', key)
      .toArray()[0] as
      | {
          terms: string
          action_state: string
          runner_paid: string
          ignored: number
          actions: number
        }
      | undefined
    if (!head || head.terms !== termsKey(terms)) return null
    try {
      const book = new LedgerBook(terms)
      for (const row of this.storage.sql.exec(
        'SELECT user, channel FROM ledger_channel WHERE key = ? ORDER BY rowid',
        key,
      ))
        book.restore(String(row.user), bookChannelFromJSON(JSON.parse(String(row.channel))))
      book.actions = Number(head.actions)
      const runnerPaid = BigInt(head.runner_paid)
      return {
        book,
        actionState: BigInt(head.action_state),
        runnerPaid,
        settledJobs: terms.pricePerJob > 0n ? runnerPaid / terms.pricePerJob : 0n,
        ignored: Number(head.ignored),
      }
    } catch {
      // A store that does not parse is no start: read from the ledger's first action.
      return null
    }
  }

  /** Writes the reading's head and the channels it changed (all of them after a rebuild). */
  #store(key: string, progress: LedgerProgress, whole: boolean): void {
    const { reading } = progress
    const { sql } = this.storage
    this.storage.transactionSync(() => {
      if (whole) sql.exec('DELETE FROM ledger_channel WHERE key = ?', key)
      const users = whole ? reading.book.users() : [...progress.touched]
      for (const user of users)
        sql.exec(
          `INSERT INTO ledger_channel (key, user, channel) VALUES (?, ?, ?)
           ON CONFLICT (key, user) DO UPDATE SET channel = excluded.channel`,
          key,
          user,
          JSON.stringify(bookChannelToJSON(reading.book.get(user))),
        )
      sql.exec(
        `INSERT INTO ledger_reading (key, terms, action_state, runner_paid, ignored, actions)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET terms = excluded.terms,
           action_state = excluded.action_state, runner_paid = excluded.runner_paid,
           ignored = excluded.ignored, actions = excluded.actions`,
        key,
        termsKey(reading.book.terms),
        reading.actionState.toString(),
        reading.runnerPaid.toString(),
        reading.ignored,
        reading.book.actions,
      )
    })
  }
}

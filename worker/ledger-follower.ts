import {
  bookChannelFromJSON,
  bookChannelToJSON,
  EMPTY_ACTION_STATE,
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
//
// Beside the book, the reading keeps the chain it walked: each account update's list hash and the
// action state after it (one row each, as the book keeps one per user). The solvency check needs
// where that chain passes the ledger's processed action state and the lists after it
// (ACTIONS_FORGED); kept, they come from storage instead of a read of every action per check.

/** The tables the follower keeps (created by the object with its others). */
export const LEDGER_FOLLOWER_SCHEMA = `
  CREATE TABLE IF NOT EXISTS ledger_reading (
    key TEXT PRIMARY KEY, terms TEXT NOT NULL, action_state TEXT NOT NULL,
    runner_paid TEXT NOT NULL, ignored INTEGER NOT NULL, actions INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS ledger_channel (
    key TEXT NOT NULL, user TEXT NOT NULL, channel TEXT NOT NULL, PRIMARY KEY (key, user));
  CREATE TABLE IF NOT EXISTS ledger_list (
    key TEXT NOT NULL, n INTEGER NOT NULL, list TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (key, n));
  CREATE INDEX IF NOT EXISTS ledger_list_state ON ledger_list (key, state);
  CREATE TABLE IF NOT EXISTS ledger_list_count (key TEXT PRIMARY KEY, count INTEGER NOT NULL);
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
    // A reading stored before its chain was kept has no chain to look states up in: start over
    // (once) rather than ever take a missing state for one the chain never passed.
    if (
      this.storage.sql.exec('SELECT 1 FROM ledger_list_count WHERE key = ?', key).toArray()
        .length === 0
    )
      return null
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
      if (whole) {
        sql.exec('DELETE FROM ledger_channel WHERE key = ?', key)
        sql.exec('DELETE FROM ledger_list WHERE key = ?', key)
        sql.exec('DELETE FROM ledger_list_count WHERE key = ?', key)
      }
      let n = whole
        ? 0
        : Number(
            sql.exec('SELECT count FROM ledger_list_count WHERE key = ?', key).toArray()[0]
              ?.count ?? 0,
          )
      // Only the chain of every landed action is looked up (pendingLists); the processed one is a
      // prefix of it.
      for (const step of key.startsWith('all:') ? progress.lists : [])
        sql.exec(
          'INSERT OR REPLACE INTO ledger_list (key, n, list, state) VALUES (?, ?, ?, ?)',
          key,
          n++,
          step.list.toString(),
          step.state.toString(),
        )
      sql.exec(
        `INSERT INTO ledger_list_count (key, count) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET count = excluded.count`,
        key,
        n,
      )
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

  /**
   * The list hashes after action state `from` up to `to` on the kept chain of every landed action
   * (`read`'s, not the processed one), oldest first, at most `limit`; null when the chain up to
   * `to` does not pass `from`. `to` must be a state a complete `read` returned: the stored chain
   * from the ledger's first action to it is then the ledger's (each state was hashed from the one
   * before, and `to` is the node's), so a state not on it is one no landed action reached.
   * Throws 503 when `to` is not on the kept chain (a read since rebuilt it): judge again.
   */
  pendingLists(ledger: string, from: bigint, to: bigint, limit: number): bigint[] | null {
    const key = `all:${ledger}`
    const { sql } = this.storage
    const at = (state: bigint): number | null => {
      if (state === EMPTY_ACTION_STATE) return -1
      const row = sql
        .exec(
          'SELECT n FROM ledger_list WHERE key = ? AND state = ? ORDER BY n LIMIT 1',
          key,
          state.toString(),
        )
        .toArray()[0]
      return row ? Number(row.n) : null
    }
    const end = at(to)
    if (end === null)
      throw new ApiError(
        503,
        ApiErrorCode.CHAIN_UNAVAILABLE,
        "the ledger's kept actions moved while its solvency was read: retry",
      )
    const start = at(from)
    if (start === null) return null
    // Past `to`: a genuine state of a later moment than the head's (a read since went on).
    if (start > end)
      throw new ApiError(
        503,
        ApiErrorCode.CHAIN_UNAVAILABLE,
        "the ledger's actions moved while its solvency was read: retry",
      )
    return sql
      .exec(
        'SELECT list FROM ledger_list WHERE key = ? AND n > ? AND n <= ? ORDER BY n LIMIT ?',
        key,
        start,
        end,
        limit,
      )
      .toArray()
      .map((r) => BigInt(String(r.list)))
  }
}

import { type LedgerBook, RECEIPTS_PER_QUERY } from '../protocol/index.ts'
import type { ChainReader } from './mina.ts'

// The refund receipts the solvency check weighs (a user's receipt balance: the refunds they
// pulled), read a bounded number of node documents per check and kept in the object's storage.
// Refunded users are a stranger's to add (deposit, withdraw, never pull), so reading every one on
// every check grew without bound. What may be kept, and why (contracts' channel-ledger.ts):
// - a user's receipt balance never goes down after the freeze: approveBase refuses every transfer
//   of the ledger's token, burnReceipts burns only the runner's, releaseRefund only mints (up to
//   the channel's `refunded`). So a value read once is a lower bound for ever.
// - a user read at or above their current `refunded` has nothing left to pull and cannot pull
//   until a new withdrawal raises `refunded` (which the processed book shows): settled, exact
//   without a read. They are never read again while `refunded` stays put.
// - any other kept value is only a lower bound (they may have pulled since, and the escrow paid
//   it): protocol's checkLedgerSolvencyBounded takes it as such, and the users read in this check
//   as exact, so an unfinished round never makes a verdict (see there).
// Users still open are read oldest-read first, so every one is read within a bounded number of
// checks however many there are.

/** The table the keeper uses (created by the object with its others). */
export const LEDGER_RECEIPTS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS ledger_receipt (
    ledger TEXT NOT NULL, user TEXT NOT NULL, pulled TEXT NOT NULL, read_at INTEGER NOT NULL,
    PRIMARY KEY (ledger, user));
`

/** Receipt documents (of RECEIPTS_PER_QUERY users) one solvency check reads at most. */
export const RECEIPT_DOCUMENTS_PER_CHECK = 4

/** What a check has of the receipts: each refunded user's (lower bound), and whom it read now. */
export interface KeptReceipts {
  receipts: Map<string, bigint>
  fresh: Set<string>
  /** Node documents this check read. */
  documents: number
}

/** Reads and keeps a ledger's refund receipts for one Durable Object. */
export class ReceiptKeeper {
  constructor(
    readonly sql: SqlStorage,
    readonly documentsPerCheck: number = RECEIPT_DOCUMENTS_PER_CHECK,
  ) {}

  /** The receipts of `book`'s refunded users: the open ones read (a bounded number), the rest kept. */
  async read(chain: ChainReader, ledger: string, book: LedgerBook): Promise<KeptReceipts> {
    const kept = new Map<string, { pulled: bigint; readAt: number }>()
    for (const row of this.sql.exec(
      'SELECT user, pulled, read_at FROM ledger_receipt WHERE ledger = ?',
      ledger,
    ))
      kept.set(String(row.user), {
        pulled: BigInt(String(row.pulled)),
        readAt: Number(row.read_at),
      })
    const receipts = new Map<string, bigint>()
    const open: { user: string; readAt: number; order: number }[] = []
    book.users().forEach((user, order) => {
      const { refunded } = book.get(user)
      if (refunded === 0n) return
      const k = kept.get(user)
      if (k) receipts.set(user, k.pulled)
      if (!k || k.pulled < refunded) open.push({ user, readAt: k?.readAt ?? -1, order })
    })
    open.sort((a, b) => a.readAt - b.readAt || a.order - b.order)
    const users = open.slice(0, this.documentsPerCheck * RECEIPTS_PER_QUERY).map((o) => o.user)
    const fresh = new Set(users)
    if (users.length === 0) return { receipts, fresh, documents: 0 }
    const read = await chain.ledgerReceipts(ledger, users)
    // A round number, not a clock: oldest-read first must hold however fast checks follow.
    const now =
      Number(
        this.sql
          .exec('SELECT MAX(read_at) AS r FROM ledger_receipt WHERE ledger = ?', ledger)
          .toArray()[0]?.r ?? 0,
      ) + 1
    for (const user of users) {
      // No account: pulled none. The node's value as read (it only grows; a reorg that undid a
      // pull also gave the escrow its credits back, so the fresh pair is the one to judge).
      const value = read.get(user) ?? 0n
      receipts.set(user, value)
      this.sql.exec(
        `INSERT INTO ledger_receipt (ledger, user, pulled, read_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (ledger, user) DO UPDATE SET pulled = excluded.pulled, read_at = excluded.read_at`,
        ledger,
        user,
        value.toString(),
        now,
      )
    }
    return {
      receipts,
      fresh,
      documents: Math.ceil(users.length / RECEIPTS_PER_QUERY),
    }
  }
}

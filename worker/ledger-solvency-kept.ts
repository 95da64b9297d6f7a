import {
  checkLedgerSolvencyBounded,
  LedgerReadError,
  type LedgerReading,
  MAX_CHECKED_STACK_LISTS,
  type SolvencyHead,
  type SolvencyVerdict,
  solvencyInputsOf,
} from '../protocol/index.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import type { LedgerFollower } from './ledger-follower.ts'
import type { ReceiptKeeper } from './ledger-receipts.ts'
import type { ChainReader } from './mina.ts'

// The Worker's solvency check (protocol's checkLedgerSolvency, through solvencyInputsOf, the rule
// the page and CLI use too) made from what the service object keeps rather than a read of every
// action each time: the books of every landed and of the processed actions are the ledger
// follower's (continued with only the actions landed since, at most its per-read cap a request),
// the lists after the processed state come from the chain it kept, and the refund receipts from
// the ReceiptKeeper (a bounded number of documents a check). Only the head (one node document) is
// read whole each time. Whatever is unfinished (a backlog past the cap, receipts still to read,
// actions landing between the reads) answers 503 `chain_unavailable` (retry; "undecided" to a
// re-check of a ledger seen solvent), never a verdict.

/** Head-and-readings rounds tried before giving up on a ledger whose actions keep moving. */
const ROUNDS = 3

const undecided = (why: string) =>
  new ApiError(503, ApiErrorCode.CHAIN_UNAVAILABLE, `the ledger's solvency is undecided: ${why}`)

/** Judges the ledger at `ledger` (vault at its `creditTokenId` account) from kept readings. */
export async function keptLedgerSolvency(
  chain: ChainReader,
  follower: LedgerFollower,
  receipts: ReceiptKeeper,
  ledger: string,
  creditTokenId: string,
): Promise<SolvencyVerdict> {
  let head: SolvencyHead = await chain.ledgerSolvencyHead(ledger, creditTokenId)
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) head = await chain.ledgerSolvencyHead(ledger, creditTokenId)
    // Folded under the ledger's own terms, as every reader of its solvency does.
    const landed = await follower.read(chain, ledger, head.terms)
    if (landed.actionState !== head.landedAt) continue
    const pendingLists = follower.pendingLists(
      ledger,
      head.processedAt,
      landed.actionState,
      MAX_CHECKED_STACK_LISTS + 1,
    )
    // A processed state the landed chain never passes cannot be read as a book (no archive lists
    // up to it): judged ACTIONS_FORGED without one.
    let processed: LedgerReading | null = null
    if (pendingLists !== null) {
      processed = await follower.read(chain, ledger, head.terms, { processed: true })
      if (processed.actionState !== head.processedAt) continue
    }
    const kept = processed
      ? await receipts.read(chain, ledger, processed.book)
      : { receipts: new Map<string, bigint>(), fresh: new Set<string>(), documents: 0 }
    // Receipts read after the head are of a later moment: a refund pulled between the two would
    // count as pulled while the head's escrow still holds it (a shortfall hidden by a timed pull).
    // Judged only when the head did not move meanwhile (attack8).
    if (kept.documents > 0) {
      const again = await chain.ledgerSolvencyHead(ledger, creditTokenId)
      if (
        again.vaultBalance !== head.vaultBalance ||
        again.landedAt !== head.landedAt ||
        again.processedAt !== head.processedAt
      )
        continue
    }
    try {
      const verdict = checkLedgerSolvencyBounded(
        solvencyInputsOf(head, { landed, pendingLists, processed }, kept.receipts),
        kept.fresh,
      )
      if (verdict.solvent === null)
        throw undecided(
          `${verdict.unread} refunded users' receipts are still to be read (a bounded number a request): retry`,
        )
      return verdict
    } catch (err) {
      // A stack deeper than is checked (TOO_MANY_ACTIONS), readings of two moments: not a verdict.
      if (err instanceof LedgerReadError) throw undecided(`${err.code}: ${err.message}`)
      throw err
    }
  }
  throw undecided('its actions kept moving between the reads: retry')
}

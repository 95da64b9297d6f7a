import { LedgerState, LedgerVaultState } from './chain-layout.ts'
import { channelsRootOf } from './channels-root.ts'
import { UnsafeServiceCode } from './genuine-service.ts'
import {
  EMPTY_ACTION_STATE,
  LedgerReadError,
  LedgerReadErrorCode,
  type LedgerReading,
  pushListHash,
} from './ledger-actions.ts'
import type { LedgerBook } from './ledger-book.ts'

// "Does this ledger's money add up?" — decided once, here, for every reader (Worker, page, stack,
// CLI), after the genuine-and-frozen check (genuine-service.ts). Frozen code is not enough: before
// the freeze (in the deploy transaction, or before the vault is deployed) the key holder can write
// the ledger's state (a channels map with a refund for an accomplice, a runnerPaid the runner then
// redeems) or move credits out of the escrow account. After the freeze credits leave the vault
// only through redeem (bounded by runnerPaid − redeemed) and refund (bounded by a channel's
// refunded − the user's receipts), so a ledger whose state is what its actions give from the
// deploy's empty state, and whose vault holds at least what those bounds add up to, pays everyone.
//
// What it owes, from the processed book (the actions its batches applied, up to its actionState):
//   (runnerPaid − redeemed)                       the runner's pay not yet redeemed
// + Σ_users (deposited − paidSoFar)               channel balances (refunded on withdrawal)
// + Σ_users max(0, refunded − receipts)           refunds granted and not yet pulled
// + deposits landed but not yet processed         (the all-landed book's deposits above it)
// A balance above that is accepted: a gift (a plain transfer to the vault) harms nobody, and
// anyone can send one, so refusing it would let a stranger take any service down.

/** What a reader read of a ledger, all from one node answer except the receipts. */
export interface LedgerSolvencyInputs {
  /** The ledger's app state (`(ledger, MINA)` zkappState). */
  ledgerState: readonly bigint[]
  /** The vault's app state (`(ledger, credit token)` zkappState); null reads as redeemed 0. */
  vaultState: readonly bigint[] | null
  /** The vault's credit balance: the escrow. */
  vaultBalance: bigint
  /** The book up to the ledger's processed action state (its LedgerState.actionState). */
  processed: Pick<LedgerReading, 'book' | 'actionState' | 'runnerPaid'>
  /** The book of every landed action (a later read than or the same as `processed`). */
  landed: Pick<LedgerReading, 'book'>
  /**
   * The list hashes (one per account update) of the actions landed after the processed action
   * state, oldest first; null when the landed actions never pass the ledger's processed action
   * state (it was written, not reached by batches).
   */
  pendingLists: readonly bigint[] | null
  /**
   * Refund receipts (the ledger's token) of the users whose processed channel has `refunded` > 0:
   * the refunds each has pulled. A user not listed has pulled none.
   */
  receipts: ReadonlyMap<string, bigint>
}

/** Where the escrow stands: what the ledger owes and holds. */
export interface SolvencyFigures {
  owed: bigint
  escrow: bigint
}

/** Solvent (with the figures), or insolvent with a stable code and a sentence. */
export type SolvencyVerdict =
  | ({ solvent: true } & SolvencyFigures)
  | { solvent: false; code: UnsafeServiceCode; reason: string }

const insolvent = (code: UnsafeServiceCode, reason: string): SolvencyVerdict => ({
  solvent: false,
  code,
  reason,
})

/** Σ over a book's users of deposited + refunded: every deposit the book applied. */
function depositsIn(book: LedgerBook): bigint {
  let sum = 0n
  for (const u of book.users()) {
    const ch = book.get(u)
    sum += ch.deposited + ch.refunded
  }
  return sum
}

/**
 * Decides whether a (genuine, frozen) ledger is solvent: its channels root and counters are what
 * its processed actions give from the deploy's empty state, and its vault holds at least what it
 * owes. Throws RangeError when the inputs are not one reading (the processed book is not at the
 * ledger's action state, or the landed book holds fewer deposits): a reader's bug, not a verdict.
 */
export function checkLedgerSolvency(inputs: LedgerSolvencyInputs): SolvencyVerdict {
  const { ledgerState, processed, landed } = inputs
  const state = (i: number) => ledgerState[i] ?? 0n
  // Batches advance the processed state list by list along the landed chain, so it is one of its
  // states; and they pop from a stack of the lists landed after it (o1js BatchReducer), which
  // the prover may take as stored: a stack written before the freeze would feed the next batch
  // actions nobody dispatched. Checked first: the rest reads the processed book.
  if (inputs.pendingLists === null) {
    return insolvent(
      UnsafeServiceCode.ACTIONS_FORGED,
      "the ledger's processed action state is no state its landed actions pass: written before the freeze",
    )
  }
  if (!isPendingStack(state(LedgerState.actionStack), inputs.pendingLists)) {
    return insolvent(
      UnsafeServiceCode.ACTIONS_FORGED,
      "the ledger's stack of pending actions is not one its landed actions give: written before the freeze, a batch would apply actions nobody dispatched",
    )
  }
  if (processed.actionState !== state(LedgerState.actionState))
    throw new RangeError("the processed book is not at the ledger's action state")
  const root = channelsRootOf(processed.book)
  if (root === null || root !== state(LedgerState.channelsRoot)) {
    return insolvent(
      UnsafeServiceCode.CHANNELS_NOT_REBUILT,
      "the ledger's channels are not what its actions give from an empty map: its key holder wrote channels before the freeze",
    )
  }
  let balances = 0n
  let refunded = 0n
  let unpulled = 0n
  for (const u of processed.book.users()) {
    const ch = processed.book.get(u)
    balances += ch.deposited - ch.paidSoFar
    refunded += ch.refunded
    const pulled = inputs.receipts.get(u) ?? 0n
    if (ch.refunded > pulled) unpulled += ch.refunded - pulled
  }
  const runnerPaid = state(LedgerState.runnerPaid)
  if (runnerPaid !== processed.runnerPaid || state(LedgerState.refunded) !== refunded) {
    return insolvent(
      UnsafeServiceCode.LEDGER_COUNTERS_DIFFER,
      `the ledger says it paid the runner ${runnerPaid} and refunded ${state(LedgerState.refunded)}, its actions paid ${processed.runnerPaid} and refunded ${refunded}`,
    )
  }
  const redeemed = inputs.vaultState?.[LedgerVaultState.redeemed] ?? 0n
  if (redeemed > runnerPaid) {
    return insolvent(
      UnsafeServiceCode.LEDGER_COUNTERS_DIFFER,
      `the vault says the runner redeemed ${redeemed}, more than the ${runnerPaid} it was paid`,
    )
  }
  const pending = depositsIn(landed.book) - depositsIn(processed.book)
  if (pending < 0n)
    throw new RangeError('the landed book holds fewer deposits than the processed one')
  const owed = runnerPaid - redeemed + balances + unpulled + pending
  if (inputs.vaultBalance < owed) {
    return insolvent(
      UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
      `the escrow holds ${inputs.vaultBalance} credits but the ledger owes ${owed}: short by ${owed - inputs.vaultBalance}`,
    )
  }
  return { solvent: true, owed, escrow: inputs.vaultBalance }
}

/** How deep a stored stack of pending lists is checked (depth² / 2 hashes at most). */
export const MAX_CHECKED_STACK_LISTS = 64

/**
 * Whether `stack` is a BatchReducer stack the landed lists give: the empty stack, or the lists
 * landed after the processed state up to some later landed state, pushed newest first (so the
 * oldest pops first), as processBatch leaves it. Throws LedgerReadError (TOO_MANY_ACTIONS) when
 * it does not match within MAX_CHECKED_STACK_LISTS lists but more are pending: undecided, not
 * forged (a long backlog), so readers fail closed without calling the ledger unsafe.
 */
export function isPendingStack(stack: bigint, pending: readonly bigint[]): boolean {
  if (stack === EMPTY_ACTION_STATE) return true
  const depth = Math.min(pending.length, MAX_CHECKED_STACK_LISTS)
  for (let k = depth; k >= 1; k--) {
    let s = EMPTY_ACTION_STATE
    for (let i = k - 1; i >= 0; i--) s = pushListHash(s, pending[i]!)
    if (s === stack) return true
  }
  if (pending.length > MAX_CHECKED_STACK_LISTS)
    throw new LedgerReadError(
      LedgerReadErrorCode.TOO_MANY_ACTIONS,
      `the ledger's stack of pending actions is deeper than ${MAX_CHECKED_STACK_LISTS} lists: checked once batches catch up`,
    )
  return false
}

/** A verdict, or "undecided" when receipts still unread could make it either. */
export type BoundedSolvencyVerdict = SolvencyVerdict | { solvent: null; unread: number }

/**
 * checkLedgerSolvency when not every refunded user's receipt was read for this check: a reader
 * with a bound on documents per check (the Worker) reads some users now (`fresh`) and keeps what it
 * read of the others before (in `inputs.receipts`, or nothing). A user's receipt balance never goes
 * down once the ledger is frozen (the ledger's approveBase refuses every transfer of its token and
 * burnReceipts burns the runner's only; releaseRefund only mints), so a value read before is a
 * lower bound of today's, and the check with it over-counts what the ledger owes: solvent then is
 * solvent now. A user read before at or above their `refunded` is settled (pulls nothing more
 * until a new withdrawal raises `refunded`), exact whenever read. For the rest, the check with
 * each unread user taken as fully pulled under-counts what is owed: insolvent then is insolvent
 * now. Between the two bounds the verdict waits for the next check (`solvent: null`), so an
 * unfinished read is never called insolvent, nor solvent, on a guess.
 */
export function checkLedgerSolvencyBounded(
  inputs: LedgerSolvencyInputs,
  fresh: ReadonlySet<string>,
): BoundedSolvencyVerdict {
  const upper = checkLedgerSolvency(inputs)
  if (upper.solvent || upper.code !== UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW) return upper
  const book = inputs.processed.book
  const optimistic = new Map(inputs.receipts)
  let unread = 0
  for (const u of book.users()) {
    const { refunded } = book.get(u)
    if (refunded === 0n || fresh.has(u) || (inputs.receipts.get(u) ?? 0n) >= refunded) continue
    optimistic.set(u, refunded)
    unread++
  }
  if (unread === 0) return upper
  const lower = checkLedgerSolvency({ ...inputs, receipts: optimistic })
  return lower.solvent ? { solvent: null, unread } : lower
}

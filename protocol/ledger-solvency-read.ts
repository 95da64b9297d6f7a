import { z } from 'zod'
import { decodeTerms, LedgerState, type ServiceTerms } from './chain-layout.ts'
import {
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  LedgerReadError,
  LedgerReadErrorCode,
  type LedgerReading,
  type LedgerSources,
  ledgerActionsQuery,
  parseLedgerActionsMarked,
} from './ledger-actions.ts'
import {
  checkLedgerSolvency,
  type LedgerSolvencyInputs,
  type SolvencyVerdict,
} from './ledger-solvency.ts'
import { parseWith } from './parse.ts'
import { receiptTokenIdOf } from './token-id.ts'

// The one reader of what the solvency check needs (ledger-solvency.ts), without o1js: every reader
// (Worker, page, CLI) reads through here, so all of them judge the same figures. The ledger's
// state, action state and the vault's balance and state come from ONE node document, so they
// describe one moment; the archive's actions are checked against the action states it names
// (processed and landed), as readLedgerBook does. Users' refund receipts are read after, and the
// head once more: a refund pulled in between would lower what the ledger is taken to owe by what
// the head's escrow still counted (a surplus that is not there), so a moved head is read again.

/** Users' receipt accounts asked per node document. */
export const RECEIPTS_PER_QUERY = 50

/** The node document reading a ledger and its vault at once. */
export function ledgerSolvencyQuery(ledger: string, creditTokenId: string): string {
  const l = JSON.stringify(ledger)
  return `{ ledger: account(publicKey: ${l}) { actionState zkappState } ledgerVault: account(publicKey: ${l}, token: ${JSON.stringify(creditTokenId)}) { balance { total } zkappState } }`
}

const FieldText = z.union([z.string().regex(/^[0-9]{1,80}$/), z.number().int().nonnegative()])
const HeadSchema = z.object({
  ledger: z
    .object({
      actionState: z.array(FieldText).min(1).max(5),
      zkappState: z.array(FieldText).max(32),
    })
    .nullish(),
  ledgerVault: z
    .object({
      balance: z.object({ total: FieldText }),
      zkappState: z.array(FieldText).max(32).nullish(),
    })
    .nullish(),
})
const ReceiptSchema = z.record(
  z.string(),
  z.object({ balance: z.object({ total: FieldText }) }).nullish(),
)

const malformed = (what: string) =>
  new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, `solvency reading: ${what}`)

/** What one node document says of a ledger for its solvency: one moment's state and escrow. */
export interface SolvencyHead {
  ledgerState: bigint[]
  vaultState: bigint[] | null
  vaultBalance: bigint
  terms: ServiceTerms
  /** The node's action state of the ledger: where every landed action ends. */
  landedAt: bigint
  /** The ledger's processed action state (its LedgerState.actionState). */
  processedAt: bigint
}

/** Reads the ledger's and its vault's state (one node document). Throws LedgerReadError. */
export async function readLedgerSolvencyHead(
  sources: Pick<LedgerSources, 'node'>,
  ledger: string,
  creditTokenId: string,
): Promise<SolvencyHead> {
  const head = parseWith(
    HeadSchema,
    await ask(sources.node, ledgerSolvencyQuery(ledger, creditTokenId)),
  )
  if (!head.ok) throw malformed(head.error.message)
  const { ledger: l, ledgerVault: v } = head.value
  if (!l) throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'no zkApp at the ledger address')
  const ledgerState = l.zkappState.map((f) => BigInt(f))
  return {
    ledgerState,
    vaultState: v?.zkappState ? v.zkappState.map((f) => BigInt(f)) : null,
    vaultBalance: v ? BigInt(v.balance.total) : 0n,
    terms: decodeTerms(ledgerState[LedgerState.terms] ?? 0n),
    landedAt: BigInt(l.actionState[0]!),
    processedAt: ledgerState[LedgerState.actionState] ?? EMPTY_ACTION_STATE,
  }
}

/**
 * The readings of a ledger's actions the solvency check needs, however they were made (one read
 * of every action, or readings kept and continued): each checked against the node's action states.
 */
export interface SolvencyReadings {
  /** Every landed action's book, at `head.landedAt`. */
  landed: Pick<LedgerReading, 'book' | 'actionState'>
  /**
   * The list hashes after `head.processedAt` on the landed chain, oldest first (the first
   * MAX_CHECKED_STACK_LISTS + 1 are enough); null when the landed chain never passes it.
   */
  pendingLists: readonly bigint[] | null
  /** The book at `head.processedAt`; null only when `pendingLists` is (it can not be read then). */
  processed: Pick<LedgerReading, 'book' | 'actionState' | 'runnerPaid'> | null
}

/**
 * The one rule turning a head, readings and receipts into checkLedgerSolvency's inputs, for every
 * reader (page and CLI read once, the Worker continues kept readings). Readings of another moment
 * than the head (actions landed or processed between the reads) are refused with
 * ACTION_STATE_MISMATCH: read again, never judged.
 */
export function solvencyInputsOf(
  head: SolvencyHead,
  readings: SolvencyReadings,
  receipts: ReadonlyMap<string, bigint>,
): LedgerSolvencyInputs {
  const { landed, pendingLists } = readings
  const processed = readings.processed ?? (pendingLists === null ? null : undefined)
  if (
    landed.actionState !== head.landedAt ||
    processed === undefined ||
    (processed !== null && processed.actionState !== head.processedAt)
  )
    throw new LedgerReadError(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
      "the ledger's actions moved between the solvency reads: read again",
    )
  return {
    ledgerState: head.ledgerState,
    vaultState: head.vaultState,
    vaultBalance: head.vaultBalance,
    // A forged processed state is judged before the book is looked at (ACTIONS_FORGED).
    processed: processed ?? foldLedgerActions([], head.terms, head.processedAt),
    landed,
    pendingLists,
    receipts,
  }
}

/**
 * Reads everything checkLedgerSolvency needs of the ledger at `ledger` (the vault at its
 * `creditTokenId` account) in one go: the head, every landed action (one archive answer), every
 * refunded user's receipt. Throws LedgerReadError (NO_LEDGER, ARCHIVE_UNAVAILABLE, a lying
 * archive...): a reader that cannot read the figures refuses, as for the book.
 */
export async function readLedgerSolvencyInputs(
  sources: LedgerSources,
  ledger: string,
  creditTokenId: string,
  options: { max?: number } = {},
): Promise<LedgerSolvencyInputs> {
  const head = await readLedgerSolvencyHead(sources, ledger, creditTokenId)
  const { landedAt, processedAt, terms } = head
  // One read of every landed action, checked against the node's action state, marking where the
  // chain passes the processed state (if it does: batches only ever reach states on it).
  const walk =
    landedAt === EMPTY_ACTION_STATE
      ? {
          actions: [] as bigint[][],
          markedAt: processedAt === EMPTY_ACTION_STATE ? 0 : null,
          lists: [] as bigint[],
          listsMarkedAt: processedAt === EMPTY_ACTION_STATE ? 0 : null,
        }
      : parseLedgerActionsMarked(
          await ask(sources.archive, ledgerActionsQuery(ledger, landedAt)),
          landedAt,
          { mark: processedAt, ...(options.max === undefined ? {} : { max: options.max }) },
        )
  const processed = foldLedgerActions(walk.actions.slice(0, walk.markedAt ?? 0), terms, processedAt)
  const landed = foldLedgerActions(walk.actions, terms, landedAt)
  const pendingLists = walk.listsMarkedAt === null ? null : walk.lists.slice(walk.listsMarkedAt)
  const users = processed.book.users().filter((u) => processed.book.get(u).refunded > 0n)
  const receipts = await readReceipts(sources, ledger, users)
  // The receipts are of a later moment than the head: a refund pulled between the reads would
  // count as pulled while the head's escrow still holds it, hiding a shortfall as large as the
  // pull. Judged only when the head is unchanged after them.
  if (users.length > 0) {
    const again = await readLedgerSolvencyHead(sources, ledger, creditTokenId)
    if (
      again.vaultBalance !== head.vaultBalance ||
      again.landedAt !== landedAt ||
      again.processedAt !== processedAt
    )
      throw new LedgerReadError(
        LedgerReadErrorCode.ACTION_STATE_MISMATCH,
        "the ledger's escrow moved while its refund receipts were read: read again",
      )
  }
  return solvencyInputsOf(head, { landed, pendingLists, processed }, receipts)
}

/**
 * The refund receipts (refunds pulled) of `users`, RECEIPTS_PER_QUERY to a node document; a user
 * without a receipt account is left out (pulled none). Throws LedgerReadError.
 */
export async function readReceipts(
  sources: Pick<LedgerSources, 'node'>,
  ledger: string,
  users: readonly string[],
): Promise<Map<string, bigint>> {
  const token = receiptTokenIdOf(ledger)
  if (!token.ok) throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'not a ledger address')
  const receipts = new Map<string, bigint>()
  for (let i = 0; i < users.length; i += RECEIPTS_PER_QUERY) {
    const chunk = users.slice(i, i + RECEIPTS_PER_QUERY)
    const doc = chunk
      .map(
        (u, j) =>
          `r${j}: account(publicKey: ${JSON.stringify(u)}, token: ${JSON.stringify(token.value)}) { balance { total } }`,
      )
      .join(' ')
    const parsed = parseWith(ReceiptSchema, await ask(sources.node, `{ ${doc} }`))
    if (!parsed.ok) throw malformed(parsed.error.message)
    chunk.forEach((u, j) => {
      const account = parsed.value[`r${j}`]
      if (account) receipts.set(u, BigInt(account.balance.total))
    })
  }
  return receipts
}

/** Reads a ledger's figures and decides its solvency (readLedgerSolvencyInputs, then checkLedgerSolvency). */
export async function readLedgerSolvency(
  sources: LedgerSources,
  ledger: string,
  creditTokenId: string,
  options: { max?: number } = {},
): Promise<SolvencyVerdict> {
  return checkLedgerSolvency(
    await readLedgerSolvencyInputs(sources, ledger, creditTokenId, options),
  )
}

async function ask(
  query: (document: string) => Promise<unknown>,
  document: string,
): Promise<unknown> {
  try {
    return await query(document)
  } catch (err) {
    if (err instanceof LedgerReadError) throw err
    throw new LedgerReadError(
      LedgerReadErrorCode.ARCHIVE_UNAVAILABLE,
      err instanceof Error ? err.message : 'the query failed',
    )
  }
}

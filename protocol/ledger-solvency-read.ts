import { z } from 'zod'
import { decodeTerms, LedgerState } from './chain-layout.ts'
import {
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  LedgerReadError,
  LedgerReadErrorCode,
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
// (processed and landed), as readLedgerBook does. Users' refund receipts are read after: a refund
// pulled in between only lowers what the ledger is taken to owe by what the escrow still counted,
// which errs towards a surplus, never towards a false alarm.

/** Users' receipt accounts asked per node document. */
const RECEIPTS_PER_QUERY = 50

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

/**
 * Reads everything checkLedgerSolvency needs of the ledger at `ledger` (the vault at its
 * `creditTokenId` account). Throws LedgerReadError (NO_LEDGER, ARCHIVE_UNAVAILABLE, a lying
 * archive...): a reader that cannot read the figures refuses, as for the book.
 */
export async function readLedgerSolvencyInputs(
  sources: LedgerSources,
  ledger: string,
  creditTokenId: string,
  options: { max?: number } = {},
): Promise<LedgerSolvencyInputs> {
  const head = parseWith(
    HeadSchema,
    await ask(sources.node, ledgerSolvencyQuery(ledger, creditTokenId)),
  )
  if (!head.ok) throw malformed(head.error.message)
  const { ledger: l, ledgerVault: v } = head.value
  if (!l) throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'no zkApp at the ledger address')
  const ledgerState = l.zkappState.map((f) => BigInt(f))
  const terms = decodeTerms(ledgerState[LedgerState.terms] ?? 0n)
  const landedAt = BigInt(l.actionState[0]!)
  const processedAt = ledgerState[LedgerState.actionState] ?? EMPTY_ACTION_STATE
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
  return {
    ledgerState,
    vaultState: v?.zkappState ? v.zkappState.map((f) => BigInt(f)) : null,
    vaultBalance: v ? BigInt(v.balance.total) : 0n,
    processed,
    landed,
    pendingLists,
    receipts: await readReceipts(sources, ledger, processed.book),
  }
}

/** The refund receipts of every processed user with a refund, in documents of a bounded size. */
async function readReceipts(
  sources: LedgerSources,
  ledger: string,
  book: LedgerSolvencyInputs['processed']['book'],
): Promise<Map<string, bigint>> {
  const token = receiptTokenIdOf(ledger)
  if (!token.ok) throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'not a ledger address')
  const users = book.users().filter((u) => book.get(u).refunded > 0n)
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

import type { ServiceTerms } from './chain-layout.ts'
import {
  type BookAction,
  decodeLedgerAction,
  LEDGER_ACTION_FIELDS,
  LedgerBook,
} from './ledger-book.ts'
import { FIELD_MODULUS } from './mina-key.ts'
import { poseidonHashWithPrefix, poseidonSalt } from './poseidon.ts'

// The one reader of a ChannelLedger's actions, without o1js (the Worker and the page both admit
// or show money from it). The archive is not trusted: the reader re-hashes every action it lists
// into Mina's action state and accepts the list only when the hash chain ends exactly at the
// action state the caller read from the node's account (`ledgerActionStateQuery`). An archive that
// drops, adds, reorders or alters an action, or lags behind the node, is refused with a typed
// error, so a reader fails closed (no admission, no "funded") instead of over-trusting. The
// actions are the ledger's own: only its proof dispatches them, so each has the LedgerAction shape.

/** Stable codes for every way reading a ledger's actions fails. Never renamed: callers match on them. */
export const LedgerReadErrorCode = {
  /** The node or archive did not answer with a readable document. */
  ARCHIVE_UNAVAILABLE: 'ARCHIVE_UNAVAILABLE',
  /** The node has no zkApp at the ledger address. */
  NO_LEDGER: 'NO_LEDGER',
  /** The archive's answer is not a list of ledger actions (shape, numbers, field count). */
  MALFORMED_ACTIONS: 'MALFORMED_ACTIONS',
  /** More actions than the reader folds in one read. */
  TOO_MANY_ACTIONS: 'TOO_MANY_ACTIONS',
  /** The listed actions do not hash to the node's action state: a lying or lagging archive. */
  ACTION_STATE_MISMATCH: 'ACTION_STATE_MISMATCH',
} as const

/** One of the ledger reader's error codes. */
export type LedgerReadErrorCode = (typeof LedgerReadErrorCode)[keyof typeof LedgerReadErrorCode]

/** Reading a ledger's actions failed; `code` says how. */
export class LedgerReadError extends Error {
  override readonly name = 'LedgerReadError'
  constructor(
    readonly code: LedgerReadErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Actions one read folds at most. Every action is a proved ledger transaction that costs its
 * sender a fee, so a ledger past this is either very busy or spammed; readers then fail closed
 * (an incremental reader from a checked earlier action state is the way past it).
 */
export const MAX_LEDGER_ACTIONS = 20_000

// Mina's action hashing (o1js `Actions`): an account update's actions hash as a list, the list
// hash then extends the account's action state. Cross-checked against o1js in the test.
const EVENT_PREFIX = 'MinaZkappEvent******'
const SEQ_EVENTS_PREFIX = 'MinaZkappSeqEvents**'

/** The action state of an account that never had an action (o1js `Actions.emptyActionState()`). */
export const EMPTY_ACTION_STATE: bigint = poseidonSalt('MinaZkappActionStateEmptyElt')[0]

/** The action state after one account update dispatched `actions` (in dispatch order). */
export function nextActionState(state: bigint, actions: readonly (readonly bigint[])[]): bigint {
  let list = poseidonSalt('MinaZkappActionsEmpty')[0]
  for (let i = actions.length - 1; i >= 0; i--) {
    list = poseidonHashWithPrefix(SEQ_EVENTS_PREFIX, [
      list,
      poseidonHashWithPrefix(EVENT_PREFIX, actions[i]!),
    ])
  }
  return poseidonHashWithPrefix(SEQ_EVENTS_PREFIX, [state, list])
}

/** The archive document listing the ledger's actions from its first up to action state `end`. */
export function ledgerActionsQuery(ledger: string, end: bigint): string {
  return `{ actions(input: { address: ${JSON.stringify(ledger)}, endActionState: ${JSON.stringify(String(end))} }) { blockInfo { height } actionState { actionStateOne actionStateTwo } actionData { accountUpdateId data transactionInfo { status sequenceNumber zkappAccountUpdateIds } } } }`
}

/** The node document reading the ledger account's latest action state and app state. */
export function ledgerActionStateQuery(ledger: string): string {
  return `{ account(publicKey: ${JSON.stringify(ledger)}) { actionState zkappState } }`
}

/** What the node says of a ledger: its latest action state and its app state. */
export interface LedgerHead {
  actionState: bigint
  zkappState: bigint[]
}

const FIELD_TEXT = /^(0|[1-9][0-9]{0,77})$/
function field(v: unknown, what: string): bigint {
  const text = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v
  if (typeof text !== 'string' || !FIELD_TEXT.test(text))
    throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, `${what} is not a field`)
  const f = BigInt(text)
  if (f >= FIELD_MODULUS)
    throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, `${what} is not a field`)
  return f
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Parses the `data` of `ledgerActionStateQuery`; a missing account or zkApp is NO_LEDGER. */
export function parseLedgerHead(data: unknown): LedgerHead {
  const account = isRecord(data) ? data.account : undefined
  if (account === null || account === undefined)
    throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'no account at the ledger address')
  if (
    !isRecord(account) ||
    !Array.isArray(account.actionState) ||
    account.actionState.length === 0 ||
    !Array.isArray(account.zkappState)
  )
    throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'no zkApp at the ledger address')
  if (account.actionState.length > 5 || account.zkappState.length > 32)
    throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, 'the account is malformed')
  return {
    actionState: field(account.actionState[0], 'the action state'),
    zkappState: account.zkappState.map((v, i) => field(v, `state field ${i}`)),
  }
}

/**
 * The raw actions (each a field list, dispatch order) of the `data` of `ledgerActionsQuery`,
 * accepted only when they hash from `from` to `end`. Throws LedgerReadError.
 */
export function parseLedgerActions(
  data: unknown,
  end: bigint,
  from: bigint = EMPTY_ACTION_STATE,
  max: number = MAX_LEDGER_ACTIONS,
): bigint[][] {
  const blocks = isRecord(data) ? data.actions : undefined
  if (!Array.isArray(blocks))
    throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, 'no list of actions')
  // Count before any hashing or sorting, so a huge answer costs no work.
  let count = 0
  for (const block of blocks) {
    if (!isRecord(block) || !Array.isArray(block.actionData))
      throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, 'a block without actions')
    count += block.actionData.length
    if (count > max)
      throw new LedgerReadError(
        LedgerReadErrorCode.TOO_MANY_ACTIONS,
        `the ledger lists more than ${max} actions`,
      )
  }
  const out: bigint[][] = []
  let state = from
  for (const [b, block] of (blocks as { actionData: unknown[] }[]).entries()) {
    const items = block.actionData.map((item, i) => {
      if (!isRecord(item) || !Array.isArray(item.data))
        throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, `block ${b}: action ${i}`)
      const info = isRecord(item.transactionInfo) ? item.transactionInfo : {}
      const ids = Array.isArray(info.zkappAccountUpdateIds) ? info.zkappAccountUpdateIds : []
      const update = String(item.accountUpdateId)
      return {
        failed: info.status === 'failed',
        sequence: typeof info.sequenceNumber === 'number' ? info.sequenceNumber : 0,
        update,
        place: ids.indexOf(Number(update)),
        data: item.data,
        i,
      }
    })
    // The chain's order within a block (as o1js's fetchActions sorts): by transaction, then by
    // the account update's place in it, then as listed. A wrong order fails the hash below.
    items.sort((x, y) => x.sequence - y.sequence || x.place - y.place || x.i - y.i)
    let group: bigint[][] = []
    let key: string | null = null
    const flush = () => {
      if (group.length === 0) return
      state = nextActionState(state, group)
      out.push(...group)
      group = []
    }
    for (const item of items) {
      // A failed transaction dispatched nothing, whatever the archive lists for it.
      if (item.failed) continue
      const k = `${item.sequence}:${item.update}`
      if (k !== key) flush()
      key = k
      if (item.data.length !== LEDGER_ACTION_FIELDS)
        throw new LedgerReadError(
          LedgerReadErrorCode.MALFORMED_ACTIONS,
          `block ${b}: an action of ${item.data.length} fields, not ${LEDGER_ACTION_FIELDS}`,
        )
      group.push(item.data.map((v, j) => field(v, `block ${b}: action field ${j}`)))
    }
    flush()
  }
  if (state !== end)
    throw new LedgerReadError(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
      "the archive's actions do not hash to the ledger's action state",
    )
  return out
}

/** What a ledger's actions say: every channel, and what the runner was paid by them. */
export interface LedgerReading {
  /** Every user's channel once all listed actions are processed. */
  book: LedgerBook
  /** The action state the actions end at (the node's, checked). */
  actionState: bigint
  /** Credits the folded claims pay the runner (the ledger's runnerPaid once batches catch up). */
  runnerPaid: bigint
  /** Jobs those credits pay for (runnerPaid / price). */
  settledJobs: bigint
  /** Actions whose user fields are no public key (isOdd not a bit): they touch no channel. */
  ignored: number
}

/**
 * Folds raw actions into a new book. An action whose user does not decode (the circuit checks
 * isOdd is a bit, so only a forged chain has one) is counted in `ignored`, not fatal: refusing it
 * would let one odd action stop every reader. A key off the curve decodes to an address nobody
 * holds, a channel no real user shares.
 */
export function foldLedgerActions(
  actions: readonly (readonly bigint[])[],
  terms: ServiceTerms,
  actionState: bigint,
): LedgerReading {
  const book = new LedgerBook(terms)
  let runnerPaid = 0n
  let ignored = 0
  for (const fields of actions) {
    const action: BookAction | null = decodeLedgerAction(fields)
    if (!action) {
      ignored++
      continue
    }
    runnerPaid += book.apply(action).runnerPaid
  }
  const settledJobs = terms.pricePerJob > 0n ? runnerPaid / terms.pricePerJob : 0n
  return { book, actionState, runnerPaid, settledJobs, ignored }
}

/** Answers one GraphQL document with its `data` (the caller's transport, timeouts, size caps). */
export type GraphqlQuery = (document: string) => Promise<unknown>

/** Where the ledger reader asks: the node (trusted for the action state) and the archive. */
export interface LedgerSources {
  node: GraphqlQuery
  archive: GraphqlQuery
}

/**
 * Reads a ledger's book: the node's action state, then every archived action up to it, checked
 * and folded. Each read starts from the ledger's first action (no book shared between reads, so
 * concurrent reads cannot fold an action twice). Throws LedgerReadError.
 */
export async function readLedgerBook(
  sources: LedgerSources,
  ledger: string,
  terms: ServiceTerms,
  options: { max?: number } = {},
): Promise<LedgerReading & { head: LedgerHead }> {
  const head = parseLedgerHead(await ask(sources.node, ledgerActionStateQuery(ledger)))
  if (head.actionState === EMPTY_ACTION_STATE)
    return { ...foldLedgerActions([], terms, head.actionState), head }
  const data = await ask(sources.archive, ledgerActionsQuery(ledger, head.actionState))
  const actions = parseLedgerActions(data, head.actionState, EMPTY_ACTION_STATE, options.max)
  return { ...foldLedgerActions(actions, terms, head.actionState), head }
}

async function ask(query: GraphqlQuery, document: string): Promise<unknown> {
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

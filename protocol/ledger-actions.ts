import { LedgerState, type ServiceTerms } from './chain-layout.ts'
import {
  type BookAction,
  decodeLedgerAction,
  LEDGER_ACTION_FIELDS,
  LedgerBook,
  type LedgerBookJson,
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

/**
 * The action state of an account that never had an action (o1js `Actions.emptyActionState()`,
 * the salt of 'MinaZkappActionStateEmptyElt'): a literal, so importing this module hashes nothing
 * (the test holds it equal to the salt and to o1js).
 */
export const EMPTY_ACTION_STATE =
  25079927036070901246064867767436987657692091363973573142121686150614948079097n

/** The hash of the actions one account update dispatched (in dispatch order), as a list. */
export function actionListHash(actions: readonly (readonly bigint[])[]): bigint {
  let list = poseidonSalt('MinaZkappActionsEmpty')[0]
  for (let i = actions.length - 1; i >= 0; i--) {
    list = poseidonHashWithPrefix(SEQ_EVENTS_PREFIX, [
      list,
      poseidonHashWithPrefix(EVENT_PREFIX, actions[i]!),
    ])
  }
  return list
}

/**
 * Extends a hash chain by one list hash: the account's action state after an account update
 * (`state`, `actionListHash`), and equally o1js BatchReducer's stack of pending lists
 * (MerkleActionHashes pushes with the same prefix, from the same empty state).
 */
export const pushListHash = (state: bigint, list: bigint): bigint =>
  poseidonHashWithPrefix(SEQ_EVENTS_PREFIX, [state, list])

/** The action state after one account update dispatched `actions` (in dispatch order). */
export function nextActionState(state: bigint, actions: readonly (readonly bigint[])[]): bigint {
  return pushListHash(state, actionListHash(actions))
}

/**
 * The archive document listing the ledger's actions up to action state `end`: from its first, or
 * only those after action state `from` (the archive API's `fromActionState`, exclusive).
 */
export function ledgerActionsQuery(
  ledger: string,
  end: bigint,
  from: bigint = EMPTY_ACTION_STATE,
): string {
  const after =
    from === EMPTY_ACTION_STATE ? '' : `fromActionState: ${JSON.stringify(String(from))}, `
  return `{ actions(input: { address: ${JSON.stringify(ledger)}, ${after}endActionState: ${JSON.stringify(String(end))} }) { blockInfo { height } actionState { actionStateOne actionStateTwo } actionData { accountUpdateId data transactionInfo { status sequenceNumber zkappAccountUpdateIds } } } }`
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

/** What walking an archive answer's actions from a known action state gave. */
export interface ActionWalk {
  /** The raw actions walked (each a field list), in dispatch order. */
  actions: bigint[][]
  /** The action state after the last action walked (unchecked until it meets a node's). */
  state: bigint
  /** False when `limit` stopped the walk before the end of what the archive listed. */
  done: boolean
  /** How many of `actions` lead to `mark` (0 when `mark` is the start), null if never passed. */
  markedAt: number | null
  /** The list hash of each account update walked, in order (actionListHash). */
  lists: bigint[]
  /** How many of `lists` lead to `mark`, null if never passed. */
  listsMarkedAt: number | null
  /** The action state after each of `lists` (so a keeper can find a later-named state on it). */
  states: bigint[]
}

/**
 * Walks the `data` of `ledgerActionsQuery` from action state `from`: orders each block's actions
 * as the chain does, hashes them account update by account update, and stops after the block that
 * reaches `limit` actions (so one read's hashing is bounded, and it stops at a block's action
 * state, one the archive can list from). Checks nothing against
 * a node: callers compare `state` to the node's. Throws LedgerReadError on a malformed answer.
 */
export function walkLedgerActions(
  data: unknown,
  options: { from?: bigint; limit?: number; fields?: number; mark?: bigint } = {},
): ActionWalk {
  const from = options.from ?? EMPTY_ACTION_STATE
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  const fields = options.fields ?? LEDGER_ACTION_FIELDS
  const blocks = isRecord(data) ? data.actions : undefined
  if (!Array.isArray(blocks))
    throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, 'no list of actions')
  const out: bigint[][] = []
  const lists: bigint[] = []
  const states: bigint[] = []
  let state = from
  let markedAt: number | null = options.mark === from ? 0 : null
  let listsMarkedAt: number | null = markedAt
  for (const [b, block] of blocks.entries()) {
    // Blocks left past the limit: not done (the next read lists from `state`).
    if (out.length >= limit)
      return { actions: out, state, done: false, markedAt, lists, listsMarkedAt, states }
    if (!isRecord(block) || !Array.isArray(block.actionData))
      throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, 'a block without actions')
    const items = block.actionData.map((item: unknown, i: number) => {
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
        data: item.data as unknown[],
        i,
      }
    })
    // The chain's order within a block (as o1js's fetchActions sorts): by transaction, then by
    // the account update's place in it, then as listed. A wrong order fails the hash check.
    items.sort((x, y) => x.sequence - y.sequence || x.place - y.place || x.i - y.i)
    let group: bigint[][] = []
    let key: string | null = null
    const flush = () => {
      if (group.length === 0) return
      const list = actionListHash(group)
      state = pushListHash(state, list)
      lists.push(list)
      states.push(state)
      out.push(...group)
      group = []
      if (markedAt === null && state === options.mark) {
        markedAt = out.length
        listsMarkedAt = lists.length
      }
    }
    for (const item of items) {
      // A failed transaction dispatched nothing, whatever the archive lists for it.
      if (item.failed) continue
      const k = `${item.sequence}:${item.update}`
      if (k !== key) flush()
      key = k
      if (item.data.length !== fields)
        throw new LedgerReadError(
          LedgerReadErrorCode.MALFORMED_ACTIONS,
          `block ${b}: an action of ${item.data.length} fields, not ${fields}`,
        )
      group.push(item.data.map((v, j) => field(v, `block ${b}: action field ${j}`)))
    }
    flush()
  }
  return { actions: out, state, done: true, markedAt, lists, listsMarkedAt, states }
}

/** Refuses an answer listing more than `max` actions before any hashing (a huge answer costs no work). */
function countActions(data: unknown, max: number): void {
  const blocks = isRecord(data) ? data.actions : undefined
  if (!Array.isArray(blocks))
    throw new LedgerReadError(LedgerReadErrorCode.MALFORMED_ACTIONS, 'no list of actions')
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
}

const mismatch = () =>
  new LedgerReadError(
    LedgerReadErrorCode.ACTION_STATE_MISMATCH,
    "the archive's actions do not hash to the ledger's action state",
  )

/**
 * The raw actions (each a field list, dispatch order) of the `data` of `ledgerActionsQuery`,
 * accepted only when they hash from `from` to `end` and each has `fields` fields (a
 * LedgerAction's by default). Throws LedgerReadError.
 */
export function parseLedgerActions(
  data: unknown,
  end: bigint,
  from: bigint = EMPTY_ACTION_STATE,
  max: number = MAX_LEDGER_ACTIONS,
  fields: number = LEDGER_ACTION_FIELDS,
): bigint[][] {
  return parseLedgerActionsMarked(data, end, { from, max, fields }).actions
}

/**
 * parseLedgerActions, and where the checked hash chain passed action state `mark` (how many of
 * the actions lead to it; null if it never did): one archive answer and one hashing pass give
 * both a prefix (the ledger's processed actions) and the whole.
 */
export function parseLedgerActionsMarked(
  data: unknown,
  end: bigint,
  options: { from?: bigint; max?: number; fields?: number; mark?: bigint } = {},
): { actions: bigint[][]; markedAt: number | null; lists: bigint[]; listsMarkedAt: number | null } {
  countActions(data, options.max ?? MAX_LEDGER_ACTIONS)
  const walk = walkLedgerActions(data, {
    from: options.from ?? EMPTY_ACTION_STATE,
    ...(options.fields === undefined ? {} : { fields: options.fields }),
    ...(options.mark === undefined ? {} : { mark: options.mark }),
  })
  if (walk.state !== end) throw mismatch()
  return {
    actions: walk.actions,
    markedAt: walk.markedAt,
    lists: walk.lists,
    listsMarkedAt: walk.listsMarkedAt,
  }
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
 * and folded. `processed` stops at the action state the ledger's batches have processed (its
 * state field LedgerState.actionState): the channels its root commits to and what it has paid,
 * rather than what every landed action will give. Each read starts from the ledger's first action
 * (no book shared between reads, so concurrent reads cannot fold an action twice). Throws
 * LedgerReadError.
 */
export async function readLedgerBook(
  sources: LedgerSources,
  ledger: string,
  terms: ServiceTerms,
  options: { max?: number; processed?: boolean } = {},
): Promise<LedgerReading & { head: LedgerHead }> {
  const head = parseLedgerHead(await ask(sources.node, ledgerActionStateQuery(ledger)))
  const end = options.processed ? head.zkappState[LedgerState.actionState] : head.actionState
  if (end === undefined)
    throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'the ledger has no app state')
  if (end === EMPTY_ACTION_STATE) return { ...foldLedgerActions([], terms, end), head }
  const data = await ask(sources.archive, ledgerActionsQuery(ledger, end))
  const actions = parseLedgerActions(data, end, EMPTY_ACTION_STATE, options.max)
  return { ...foldLedgerActions(actions, terms, end), head }
}

/**
 * What an incremental read gave: the reading it reached (to keep for the next read, whether or not
 * it is complete), whether that is the node's own action state (only then may anyone act on it),
 * and the work it did.
 */
export interface LedgerProgress {
  /** The book up to `reading.actionState`; checked only when `complete`. */
  reading: LedgerReading
  head: LedgerHead
  /** The reading ends at the node's action state (checked): only then is it a ledger's book. */
  complete: boolean
  /** The kept reading could not be continued (a reorg, a lying archive): this one began empty. */
  rebuilt: boolean
  /** Actions the archive listed in the answers read, and actions hashed and folded. */
  listed: number
  folded: number
  /** Users whose channel the actions folded by this read touched (to store only those). */
  touched: Set<string>
  /**
   * The list hash of each account update this read folded, with the action state after it, in
   * order (after `rebuilt`, from the ledger's first): a keeper that stores them can later find
   * where the chain passed a state (the solvency check's processed action state) and the lists
   * after it, without reading the archive again.
   */
  lists: readonly ListStep[]
}

/** One account update's step of a ledger's action chain: its list hash, the state after it. */
export interface ListStep {
  list: bigint
  state: bigint
}

/**
 * Continues a reading kept from an earlier read (`kept`, or null to start from the ledger's first
 * action): asks the archive only for the actions after `kept.actionState` up to the node's action
 * state, hashes those from the kept state on, folds them into a copy of the kept book. At most
 * about `max` actions are hashed a read (whole blocks): past that, the result is progress but not
 * `complete`, and the caller keeps it and reads again, so a long backlog is caught up over several
 * reads rather than refused for ever; it must not act on an incomplete one (fail closed).
 *
 * Sound whatever the archive says: a reading is `complete` only when the hash chain from the empty
 * action state through every folded action ends at the node's action state, so a forged action
 * anywhere, in a kept reading or in this increment, can never complete (Poseidon's collision
 * resistance); it fails here with ACTION_STATE_MISMATCH. When the kept reading cannot be
 * continued (the archive cannot list from its state, or the increment does not hash to the node's:
 * a reorg or a lie), the read starts once more from empty in the same call (`rebuilt`). Throws
 * LedgerReadError when that fails too; the caller then keeps what it had.
 */
export async function readLedgerBookFrom(
  sources: LedgerSources,
  ledger: string,
  terms: ServiceTerms,
  kept: LedgerReading | null,
  options: { max?: number; processed?: boolean } = {},
): Promise<LedgerProgress> {
  const head = parseLedgerHead(await ask(sources.node, ledgerActionStateQuery(ledger)))
  const end = options.processed ? head.zkappState[LedgerState.actionState] : head.actionState
  if (end === undefined)
    throw new LedgerReadError(LedgerReadErrorCode.NO_LEDGER, 'the ledger has no app state')
  const max = options.max ?? MAX_LEDGER_ACTIONS
  // A reading under other terms folds to other channels: it is no start for these.
  const start = kept && sameTerms(kept.book.terms, terms) ? kept : null
  const progress = (
    reading: LedgerReading,
    rebuilt: boolean,
    listed = 0,
    folded = 0,
    touched = new Set<string>(),
    lists: readonly ListStep[] = [],
  ): LedgerProgress => ({
    reading,
    head,
    complete: reading.actionState === end,
    rebuilt,
    listed,
    folded,
    touched,
    lists,
  })
  if (start && start.actionState === end) return progress(start, false)
  if (end === EMPTY_ACTION_STATE) return progress(foldLedgerActions([], terms, end), start !== null)
  const continueFrom = async (from: LedgerReading) => {
    const data = await ask(sources.archive, ledgerActionsQuery(ledger, end, from.actionState))
    const listed = listedActions(data)
    const walk = walkLedgerActions(data, { from: from.actionState, limit: max })
    if (walk.done && walk.state !== end) throw mismatch()
    const { reading, touched } = foldMore(from, walk.actions, walk.state)
    const lists = walk.lists.map((list, i) => ({ list, state: walk.states[i]! }))
    return { reading, listed, folded: walk.actions.length, touched, lists }
  }
  const empty = foldLedgerActions([], terms, EMPTY_ACTION_STATE)
  if (start && start.actionState !== EMPTY_ACTION_STATE) {
    try {
      const r = await continueFrom(start)
      return progress(r.reading, false, r.listed, r.folded, r.touched, r.lists)
    } catch (err) {
      if (!(err instanceof LedgerReadError)) throw err
    }
    // The node's state is not reached from the kept one: rebuild from the ledger's first action.
    const r = await continueFrom(empty)
    return progress(r.reading, true, r.listed, r.folded, r.touched, r.lists)
  }
  const r = await continueFrom(empty)
  return progress(r.reading, start !== null, r.listed, r.folded, r.touched, r.lists)
}

const sameTerms = (a: ServiceTerms, b: ServiceTerms) =>
  a.pricePerJob === b.pricePerJob && a.withdrawTimelockSlots === b.withdrawTimelockSlots

/** Actions an archive answer lists (what it cost to read, for the caller's accounting). */
function listedActions(data: unknown): number {
  const blocks = isRecord(data) ? data.actions : undefined
  if (!Array.isArray(blocks)) return 0
  let n = 0
  for (const b of blocks) if (isRecord(b) && Array.isArray(b.actionData)) n += b.actionData.length
  return n
}

/** Folds `actions` into a copy of `from`'s book: the reading at `actionState` (`from` unchanged). */
export function foldLedgerActionsOnto(
  from: LedgerReading,
  actions: readonly (readonly bigint[])[],
  actionState: bigint,
): LedgerReading {
  return foldMore(from, actions, actionState).reading
}

/** Folds `actions` into a copy of `from`'s book: the reading at `actionState`, and whom it touched. */
function foldMore(
  from: LedgerReading,
  actions: readonly (readonly bigint[])[],
  actionState: bigint,
): { reading: LedgerReading; touched: Set<string> } {
  const book = from.book.clone()
  const terms = book.terms
  let runnerPaid = from.runnerPaid
  let ignored = from.ignored
  const touched = new Set<string>()
  for (const fields of actions) {
    const action = decodeLedgerAction(fields)
    if (!action) {
      ignored++
      continue
    }
    touched.add(action.user)
    runnerPaid += book.apply(action).runnerPaid
  }
  const settledJobs = terms.pricePerJob > 0n ? runnerPaid / terms.pricePerJob : 0n
  return { reading: { book, actionState, runnerPaid, settledJobs, ignored }, touched }
}

/** A reading as JSON-able values (bigints as decimal strings), for storage. */
export interface LedgerReadingJson {
  actionState: string
  runnerPaid: string
  ignored: number
  book: LedgerBookJson
}

/** A reading in JSON-able form (the book whole; a store by user key can keep `book` apart). */
export function ledgerReadingToJSON(r: LedgerReading): LedgerReadingJson {
  return {
    actionState: r.actionState.toString(),
    runnerPaid: r.runnerPaid.toString(),
    ignored: r.ignored,
    book: r.book.toJSON(),
  }
}

/** A reading from ledgerReadingToJSON's form under `terms`; throws TypeError on anything else. */
export function ledgerReadingFromJSON(terms: ServiceTerms, json: unknown): LedgerReading {
  const j = json as Partial<LedgerReadingJson> | null
  const decimal = (v: unknown) => typeof v === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(v)
  if (
    typeof j !== 'object' ||
    j === null ||
    !decimal(j.actionState) ||
    !decimal(j.runnerPaid) ||
    !Number.isSafeInteger(j.ignored)
  )
    throw new TypeError('not a stored ledger reading')
  const book = LedgerBook.fromJSON(terms, j.book)
  const runnerPaid = BigInt(j.runnerPaid as string)
  return {
    book,
    actionState: BigInt(j.actionState as string),
    runnerPaid,
    settledJobs: terms.pricePerJob > 0n ? runnerPaid / terms.pricePerJob : 0n,
    ignored: j.ignored as number,
  }
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

import { Experimental, Field, fetchAccount, Mina, PublicKey, UInt32, UInt64 } from 'o1js'
import {
  type BookAction,
  type BookChannel,
  decodeLedgerAction,
  decodeTerms,
  LedgerBook,
  LedgerState,
} from '../protocol/index.ts'
import { Channel, ChannelMap, channelKey } from './channel.ts'
import { LedgerAction, LedgerChannel, loadLedgerChannels } from './channel-ledger.ts'

// The o1js side of the one channel book (protocol/ledger-book.ts holds the rules): the channels
// map a book commits to, a book channel as the circuit's struct, and both books of a ledger read
// from the chain (archive on a network, the LocalBlockchain in tests), the committed one handed
// to the prover so any process builds the next batch.

export type { BookAction, BookChannel }
export { LedgerBook }

/**
 * The channels map a book's channels commit to (the ledger's channelsRoot if the book is its
 * processed prefix). An indexed map's root depends on insertion order: processBatch inserts a
 * user at their first action (applied or skipped), and the book lists users in that order too.
 */
export function bookMap(book: LedgerBook): ChannelMap {
  const map = new ChannelMap()
  for (const user of book.users()) {
    map.insert(channelKey(PublicKey.fromBase58(user)), toLedgerChannel(book.get(user)).hash())
  }
  return map
}

/**
 * BookChannel (protocol, plain bigints: the Worker and the page have no o1js) is the circuit's
 * LedgerChannel flattened: the Channel struct's values plus `deposited` and `refunded`. Both
 * must exist, since protocol cannot import o1js; this type makes them one shape: a field added to
 * one and not the other fails the typecheck here.
 */
type LedgerChannelValues = ReturnType<typeof Channel.toValue> & {
  deposited: bigint
  refunded: bigint
}
const _sameShape: [BookChannel, LedgerChannelValues] extends [LedgerChannelValues, BookChannel]
  ? true
  : never = true

/** A book channel as the circuit's struct. */
export function toLedgerChannel(ch: BookChannel): LedgerChannel {
  return new LedgerChannel({
    channel: new Channel({
      paidSoFar: UInt64.from(ch.paidSoFar),
      voucherNonce: UInt64.from(ch.voucherNonce),
      withdrawRequestedAtSlot: UInt32.from(ch.withdrawRequestedAtSlot),
      resultsRoot: Field(ch.resultsRoot),
      resultsCount: UInt32.from(ch.resultsCount),
      closeNonce: UInt64.from(ch.closeNonce),
    }),
    deposited: UInt64.from(ch.deposited),
    refunded: UInt64.from(ch.refunded),
  })
}

/** The circuit's struct as a book channel (what a test compares with the book). */
export function bookChannelOf(ch: LedgerChannel): BookChannel {
  return {
    ...Channel.toValue(ch.channel),
    deposited: ch.deposited.toBigInt(),
    refunded: ch.refunded.toBigInt(),
  }
}

/** An action as dispatched (its fields, as the chain returns them) to book values. */
export function bookActionOf(fields: readonly string[]): BookAction {
  // The circuit's layout is the protocol's (checked here on every action read).
  const a = LedgerAction.fromFields(fields.map((f) => Field(f)))
  const decoded = decodeLedgerAction(fields)
  if (!decoded || decoded.user !== a.user.toBase58() || decoded.kind !== Number(a.kind.toBigInt()))
    throw new Error('a ledger action does not decode as protocol/ledger-book.ts lays it out')
  return decoded
}

/** A ledger's books: `committed` (what its channels root holds) and `all` (every action). */
export interface LedgerBooks {
  committed: LedgerBook
  all: LedgerBook
  /** The ledger's channels root, which `bookMap(committed)` matches. */
  channelsRoot: bigint
}

/**
 * Reads a ledger's actions (archive on a network) and state, and rebuilds both books. Throws if
 * the processed prefix does not give the ledger's channels root (an archive missing actions).
 * Also hands the committed channels to the prover (processBatch witnesses from them).
 */
export async function readLedgerBooks(ledger: PublicKey): Promise<LedgerBooks> {
  // A network's account is read fresh (o1js serves a cached one otherwise); a LocalBlockchain's is.
  if (!('testAccounts' in Mina.activeInstance)) await fetchAccount({ publicKey: ledger })
  const account = Mina.getAccount(ledger)
  const state = account.zkapp?.appState.map((f) => f.toBigInt())
  if (!state) throw new Error('not a ledger: no zkApp state')
  const terms = decodeTerms(state[LedgerState.terms]!)
  const processedUpTo = state[LedgerState.actionState]!
  const lists = await Mina.fetchActions(ledger)
  if ('error' in lists) throw new Error(`ledger actions: ${JSON.stringify(lists.error)}`)
  const committed = new LedgerBook(terms)
  const all = new LedgerBook(terms)
  // Nothing processed yet while the action state is still the initial one.
  let inPrefix = processedUpTo !== BatchReducer.initialActionState.toBigInt()
  for (const list of lists) {
    for (const fields of list.actions) {
      const action = bookActionOf(fields)
      all.apply(action)
      if (inPrefix) committed.apply(action)
    }
    if (inPrefix && BigInt(list.hash) === processedUpTo) inPrefix = false
  }
  const map = bookMap(committed)
  const channelsRoot = state[LedgerState.channelsRoot]!
  if (map.root.toBigInt() !== channelsRoot) {
    throw new Error('ledger actions do not rebuild its channels root (archive incomplete?)')
  }
  loadLedgerChannels(
    ledger,
    new Map(committed.users().map((u) => [u, toLedgerChannel(committed.get(u))])),
  )
  return { committed, all, channelsRoot }
}

const { BatchReducer } = Experimental

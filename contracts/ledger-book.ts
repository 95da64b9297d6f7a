import { Experimental, Field, fetchAccount, Mina, PublicKey, UInt32, UInt64 } from 'o1js'
import { decodeTerms, LedgerState, type ServiceTerms } from '../protocol/index.ts'
import { Channel, ChannelMap, channelKey } from './channel.ts'
import {
  ActionKind,
  LedgerAction,
  LedgerChannel,
  loadLedgerChannels,
  SkipReason,
} from './channel-ledger.ts'

// The one channel book of a ChannelLedger: every user's channel, rebuilt from the ledger's actions
// (from the archive on a network, from the LocalBlockchain in tests) with processBatch's rules,
// here over bigints. The agent (to build batches), the Worker (a user's fundable deposit), the
// page and the stack all read through it. processBatch's outcome of an action depends only on the
// actions before it, never on where batches split them, so folding every action in order gives
// the channels the chain will hold once every pending batch is processed; folding the processed
// prefix (up to the ledger's actionState) gives the channels the channels root commits to now.

/** A user's ledger channel as plain values (LedgerChannel's fields). */
export interface BookChannel {
  paidSoFar: bigint
  voucherNonce: bigint
  withdrawRequestedAtSlot: bigint
  resultsRoot: bigint
  resultsCount: bigint
  closeNonce: bigint
  deposited: bigint
  refunded: bigint
}

/** One ledger action as plain values (LedgerAction's fields, the user in base58). */
export interface BookAction {
  kind: number
  user: string
  amount: bigint
  nonce: bigint
  slot: bigint
  resultsRoot: bigint
  resultsCount: bigint
}

export const EMPTY_BOOK_CHANNEL: BookChannel = {
  paidSoFar: 0n,
  voucherNonce: 0n,
  withdrawRequestedAtSlot: 0n,
  resultsRoot: 0n,
  resultsCount: 0n,
  closeNonce: 0n,
  deposited: 0n,
  refunded: 0n,
}

/** What one action did: the channel after it, why it was skipped (0: applied), what it paid. */
export interface ActionOutcome {
  next: BookChannel
  reason: number
  runnerPaid: bigint
  refund: bigint
}

/** processBatch's rule for one action, over bigints (ledger-book.test checks them equal). */
export function applyAction(ch: BookChannel, a: BookAction, terms: ServiceTerms): ActionOutcome {
  if (a.kind === ActionKind.deposit) {
    return {
      next: { ...ch, deposited: ch.deposited + a.amount },
      reason: 0,
      runnerPaid: 0n,
      refund: 0n,
    }
  }
  if (a.kind === ActionKind.settle) {
    const added = a.resultsCount > ch.resultsCount ? a.resultsCount - ch.resultsCount : 0n
    const paidSoFar = ch.paidSoFar + terms.pricePerJob * added
    const reason =
      a.nonce <= ch.voucherNonce
        ? SkipReason.staleVoucher
        : added === 0n
          ? SkipReason.noNewResults
          : paidSoFar > a.amount
            ? SkipReason.voucherBelowResults
            : paidSoFar > ch.deposited
              ? SkipReason.voucherAboveDeposit
              : 0
    if (reason !== 0) return { next: ch, reason, runnerPaid: 0n, refund: 0n }
    return {
      next: {
        ...ch,
        paidSoFar,
        voucherNonce: a.nonce,
        resultsRoot: a.resultsRoot,
        resultsCount: a.resultsCount,
      },
      reason: 0,
      runnerPaid: paidSoFar - ch.paidSoFar,
      refund: 0n,
    }
  }
  if (a.kind === ActionKind.requestWithdraw) {
    return {
      next: { ...ch, withdrawRequestedAtSlot: a.slot, closeNonce: a.nonce },
      reason: 0,
      runnerPaid: 0n,
      refund: 0n,
    }
  }
  if (a.kind === ActionKind.withdraw) {
    const reason =
      ch.withdrawRequestedAtSlot === 0n
        ? SkipReason.withdrawNotRequested
        : a.slot < ch.withdrawRequestedAtSlot + terms.withdrawTimelockSlots
          ? SkipReason.timelockNotOver
          : 0
    if (reason !== 0) return { next: ch, reason, runnerPaid: 0n, refund: 0n }
    const refund = ch.deposited - ch.paidSoFar
    return {
      next: {
        ...ch,
        voucherNonce: ch.closeNonce > ch.voucherNonce ? ch.closeNonce : ch.voucherNonce,
        withdrawRequestedAtSlot: 0n,
        closeNonce: 0n,
        deposited: ch.paidSoFar,
        refunded: ch.refunded + refund,
      },
      reason: 0,
      runnerPaid: 0n,
      refund,
    }
  }
  // An unknown kind changes nothing (processBatch's circuit treats it so too).
  return { next: ch, reason: 0, runnerPaid: 0n, refund: 0n }
}

/** Every user's channel after some prefix of a ledger's actions. */
export class LedgerBook {
  private readonly channels = new Map<string, BookChannel>()
  /** Actions folded so far. */
  actions = 0

  constructor(readonly terms: ServiceTerms) {}

  /** The user's channel (the empty one if no action named them). */
  get(user: string): BookChannel {
    return this.channels.get(user) ?? EMPTY_BOOK_CHANNEL
  }

  /** Folds one action in; returns its outcome. */
  apply(a: BookAction): ActionOutcome {
    const out = applyAction(this.get(a.user), a, this.terms)
    this.channels.set(a.user, out.next)
    this.actions++
    return out
  }

  /**
   * Credits the user may still spend on new jobs: deposited − paid, none while a withdrawal is
   * pending (the runner might not settle new work before the timelock ends).
   */
  fundable(user: string): bigint {
    const ch = this.get(user)
    if (ch.withdrawRequestedAtSlot !== 0n) return 0n
    return ch.deposited - ch.paidSoFar
  }

  /** Users with a channel, in no particular order. */
  users(): string[] {
    return [...this.channels.keys()]
  }

  /**
   * The channels map these channels commit to (the ledger's channelsRoot if this is its processed
   * prefix). An indexed map's root depends on insertion order: processBatch inserts a user at
   * their first action (applied or skipped), and this map iterates users in that order too.
   */
  map(): ChannelMap {
    const map = new ChannelMap()
    for (const [user, ch] of this.channels) {
      map.insert(channelKey(PublicKey.fromBase58(user)), toLedgerChannel(ch).hash())
    }
    return map
  }
}

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

/** An action as dispatched (its fields, as the chain returns them) to book values. */
export function bookActionOf(fields: readonly string[]): BookAction {
  const a = LedgerAction.fromFields(fields.map((f) => Field(f)))
  return {
    kind: Number(a.kind.toBigInt()),
    user: a.user.toBase58(),
    amount: a.amount.toBigInt(),
    nonce: a.nonce.toBigInt(),
    slot: a.slot.toBigint(),
    resultsRoot: a.resultsRoot.toBigInt(),
    resultsCount: a.resultsCount.toBigint(),
  }
}

/** A ledger's books: `committed` (what its channels root holds) and `all` (every action). */
export interface LedgerBooks {
  committed: LedgerBook
  all: LedgerBook
  /** The ledger's channels root, which `committed.map()` matches. */
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
  const map = committed.map()
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

import type { ServiceTerms } from './chain-layout.ts'
import { publicKeyFromFields, publicKeyToFields } from './mina-key.ts'

// The one channel book of a service's ChannelLedger, without o1js (the Worker and the page read
// it too): every user's channel rebuilt from the ledger's actions with processBatch's rules, over
// bigints. processBatch's outcome of an action depends only on the actions before it, never on
// where batches split them, so folding every landed action in order gives the channels the chain
// will hold once every pending batch is processed; folding the processed prefix (up to the
// ledger's actionState) gives the channels its channels root commits to now. contracts'
// ledger-book.ts adds the o1js side: the map, the prover's witnesses, reading from a chain.

/** What an action asks for (contracts' LedgerAction `kind`). */
export const ActionKind = {
  deposit: 1,
  settle: 2,
  requestWithdraw: 3,
  withdraw: 4,
} as const

/** Why processBatch skipped an action (the Batch event's `reasons`, 3 bits an action). */
export const SkipReason = {
  staleVoucher: 1,
  noNewResults: 2,
  voucherBelowResults: 3,
  voucherAboveDeposit: 4,
  withdrawNotRequested: 5,
  timelockNotOver: 6,
} as const

/** Fields of one dispatched LedgerAction, in order. */
export const LEDGER_ACTION_FIELDS = 8

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

/** processBatch's rule for one action, over bigints (contracts' channel-ledger tests check them equal). */
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

  /** Users with a channel, in the order of their first action (the channels map's order). */
  users(): string[] {
    return [...this.channels.keys()]
  }

  /** A copy to fold more actions into, leaving this one as it is. */
  clone(): LedgerBook {
    const copy = new LedgerBook(this.terms)
    for (const [user, ch] of this.channels) copy.channels.set(user, ch)
    copy.actions = this.actions
    return copy
  }

  /** Sets a user's channel as stored (LedgerBook.fromJSON, a store kept by user key). */
  restore(user: string, channel: BookChannel): void {
    this.channels.set(user, channel)
  }

  /** The book as JSON-able values (bigints as decimal strings), for storage. */
  toJSON(): LedgerBookJson {
    return {
      actions: this.actions,
      channels: [...this.channels].map(([user, ch]) => [user, bookChannelToJSON(ch)]),
    }
  }

  /** A book from `toJSON`'s form; throws TypeError on anything else (a corrupt store). */
  static fromJSON(terms: ServiceTerms, json: unknown): LedgerBook {
    const j = json as Partial<LedgerBookJson> | null
    if (
      typeof j !== 'object' ||
      j === null ||
      !Number.isSafeInteger(j.actions) ||
      (j.actions as number) < 0 ||
      !Array.isArray(j.channels)
    )
      throw new TypeError('not a stored ledger book')
    const book = new LedgerBook(terms)
    book.actions = j.actions as number
    for (const entry of j.channels) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string')
        throw new TypeError('not a stored channel')
      book.channels.set(entry[0], bookChannelFromJSON(entry[1]))
    }
    return book
  }
}

/** A LedgerBook as JSON-able values: the actions folded, each channel by user. */
export interface LedgerBookJson {
  actions: number
  channels: [user: string, channel: string[]][]
}

const CHANNEL_FIELDS = [
  'paidSoFar',
  'voucherNonce',
  'withdrawRequestedAtSlot',
  'resultsRoot',
  'resultsCount',
  'closeNonce',
  'deposited',
  'refunded',
] as const satisfies readonly (keyof BookChannel)[]

/** A channel as decimal strings, in BookChannel's field order. */
export function bookChannelToJSON(ch: BookChannel): string[] {
  return CHANNEL_FIELDS.map((k) => ch[k].toString())
}

/** A channel from bookChannelToJSON's form; throws TypeError on anything else. */
export function bookChannelFromJSON(json: unknown): BookChannel {
  if (
    !Array.isArray(json) ||
    json.length !== CHANNEL_FIELDS.length ||
    !json.every((v) => typeof v === 'string' && /^(0|[1-9][0-9]{0,77})$/.test(v))
  )
    throw new TypeError('not a stored channel')
  const ch = { ...EMPTY_BOOK_CHANNEL }
  CHANNEL_FIELDS.forEach((k, i) => {
    ch[k] = BigInt(json[i] as string)
  })
  return ch
}

/**
 * One action from its dispatched fields (as the archive lists them: kind, user x, user isOdd,
 * amount, nonce, slot, resultsRoot, resultsCount), or null when malformed.
 */
export function decodeLedgerAction(fields: readonly (string | bigint)[]): BookAction | null {
  if (fields.length !== LEDGER_ACTION_FIELDS) return null
  const f = fields.map((x) => BigInt(x))
  if (f[2] !== 0n && f[2] !== 1n) return null
  const user = publicKeyFromFields(f[1]!, f[2] === 1n)
  if (!user) return null
  return {
    kind: Number(f[0]!),
    user,
    amount: f[3]!,
    nonce: f[4]!,
    slot: f[5]!,
    resultsRoot: f[6]!,
    resultsCount: f[7]!,
  }
}

/**
 * An action's dispatched fields, the inverse of {@link decodeLedgerAction}: what the contract's
 * LedgerAction holds, for whoever writes actions without o1js (the Worker's and verify's chain
 * doubles, the solvency tests). Throws on a malformed user key: a caller's own bug.
 */
export function encodeLedgerAction(a: BookAction): bigint[] {
  const key = publicKeyToFields(a.user)
  if (!key.ok) throw key.error
  const [x, isOdd] = key.value
  return [BigInt(a.kind), x, isOdd, a.amount, a.nonce, a.slot, a.resultsRoot, a.resultsCount]
}

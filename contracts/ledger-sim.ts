import {
  ActionKind,
  type ActionOutcome,
  type BookAction,
  type BookChannel,
  LedgerBook,
  type ServiceTerms,
  SkipReason,
  SLOT_WINDOW,
} from '../protocol/index.ts'
import { ServiceErrors } from './errors.ts'

// A whole service around the one channel book (protocol/ledger-book.ts's LedgerBook, the rules
// processBatch runs): the parties' credits, the vault, the runner's receipts and redeems, the
// refunds users pull, the actions landed and the batches that process them, and what actually
// happened off chain (the payable results the runner holds, the vouchers each user signed). The
// property test drives it with thousands of seeded operations and checks, after every one, what
// must hold whatever the rules' details: supply conserved and every credit owned once, nobody
// refunded more than deposited − paid, the runner paid exactly price × payable results accepted,
// stale and forged claims changing nothing. ledger-replay.test.ts replays a prefix on the real
// contracts and holds the chain equal to this, step by step.

/** A voucher as the user signed it (the chain replay signs the same values). */
export interface Voucher {
  amount: bigint
  nonce: bigint
}

/** How a forged claim is forged; each is refused by ChannelLedger.claim before it dispatches. */
export type Forgery =
  /** A count above the results the tree holds (the runner signs the count too). */
  | 'countAboveTree'
  /** The tree holds one more result than the runner signed for; the claim says the larger count. */
  | 'countAboveSigned'
  /** Leaves built for another user. */
  | 'otherUsersLeaves'
  /** Signed by a key that is not the service's runner. */
  | 'notRunnerKey'
  /** A voucher another key signed. */
  | 'voucherNotSigned'

/** Why the runner lands a claim: what the property test expects of it. */
export type ClaimIntent = 'honest' | 'stale' | 'belowResults' | 'noNew'

/** One operation of the system. Users are indices; the sponsor deposits for anyone. */
export type SimOp =
  | { kind: 'deposit'; from: number | 'sponsor'; user: number; amount: bigint }
  /** The user requests a job, signing the next voucher; the job ends payable or not. */
  | { kind: 'job'; user: number; payable: boolean }
  | { kind: 'claim'; user: number; voucher: Voucher; count: bigint; intent: ClaimIntent }
  | { kind: 'forgedClaim'; user: number; voucher: Voucher; count: bigint; forgery: Forgery }
  | { kind: 'requestWithdraw'; user: number; closeNonce: bigint }
  | { kind: 'withdraw'; user: number }
  | { kind: 'advance'; slots: bigint }
  /** processBatch of the next pending actions (at most the batch size). */
  | { kind: 'batch' }
  /** The user pulls the refunds their withdrawals were granted (LedgerVault.refund). */
  | { kind: 'refund'; user: number }
  | { kind: 'redeem'; amount: bigint }
  /** After a mass withdrawal: each user's channel settled in full and closed, refund granted. */
  | { kind: 'expectClosed'; users: number[] }

/** What one operation did: the error the contract refuses it with, an action, or a batch. */
export interface StepResult {
  refused?: string
  outcome?: ActionOutcome
  batch?: { reasons: number[]; runnerPaid: bigint; refunded: bigint }
}

/** A user's side, off chain and in their wallet. */
export interface SimUser {
  /** Credits in the user's wallet. */
  credits: bigint
  /** Refunds pulled so far (the user's receipt balance on chain). */
  pulled: bigint
  /** Payable results the runner holds for the user (results of jobs that ran to an end). */
  payable: bigint
  notPayable: bigint
  /** What the Worker counts the user owes: price × jobs not released. */
  owed: bigint
  /** The voucher of the user's latest job request. */
  latest: Voucher | null
  /** Every voucher the user signed. */
  vouchers: Voucher[]
  maxNonce: bigint
  maxSigned: bigint
  /** Σ deposits for the user landed (folded into `all`) and processed (into `committed`). */
  depositsLanded: bigint
  depositsProcessed: bigint
}

/** A simulated service: its parties, its terms, the names its users have in the book. */
export interface SimConfig {
  terms: ServiceTerms
  /** Book names of the users (base58 keys on a chain). */
  names: string[]
  /** Users at the end of `names` who never deposit nor request jobs (strangers). */
  strangers: number
  /** Credits each user and the sponsor start with. */
  userCredits: bigint
  sponsorCredits: bigint
  /** processBatch's LEDGER_BATCH_SIZE. */
  batchSize: number
  /** The results root of a user's first `count` results (any injective value off chain). */
  rootOf: (user: number, count: bigint) => bigint
  /** The chain's slot when the simulation starts. */
  slot?: bigint
}

interface Pending {
  action: BookAction
  outcome: ActionOutcome
}

/** Counts of what the operations exercised (the test asserts every path was taken). */
export type SimStats = Record<string, number>

/** The simulated service; `step` applies one operation and checks every invariant after it. */
export class LedgerSim {
  slot: bigint
  readonly all: LedgerBook
  readonly committed: LedgerBook
  readonly users: SimUser[]
  pending: Pending[] = []
  sponsorCredits: bigint
  runnerCredits = 0n
  vault = 0n
  /** What processed batches paid the runner (the ledger's runnerPaid) and refunded in total. */
  runnerPaid = 0n
  refunded = 0n
  redeemed = 0n
  readonly minted: bigint
  readonly stats: SimStats = {}

  constructor(readonly config: SimConfig) {
    this.slot = config.slot ?? 0n
    this.all = new LedgerBook(config.terms)
    this.committed = new LedgerBook(config.terms)
    this.users = config.names.map(() => ({
      credits: config.userCredits,
      pulled: 0n,
      payable: 0n,
      notPayable: 0n,
      owed: 0n,
      latest: null,
      vouchers: [],
      maxNonce: 0n,
      maxSigned: 0n,
      depositsLanded: 0n,
      depositsProcessed: 0n,
    }))
    this.sponsorCredits = config.sponsorCredits
    this.minted = config.userCredits * BigInt(config.names.length) + config.sponsorCredits
  }

  get price(): bigint {
    return this.config.terms.pricePerJob
  }

  /** Users who deposit and run jobs (not strangers). */
  get members(): number[] {
    return this.users.map((_, i) => i).slice(0, this.users.length - this.config.strangers)
  }

  /** The user's channel with every landed action folded. */
  channel(user: number): BookChannel {
    return this.all.get(this.name(user))
  }

  name(user: number): string {
    return this.config.names[user]!
  }

  /** The runner's receipts: paid by batches, not redeemed yet. */
  get receipts(): bigint {
    return this.runnerPaid - this.redeemed
  }

  /** Applies one operation; throws when an invariant breaks. */
  step(op: SimOp): StepResult {
    const result = this.apply(op)
    this.count(result.refused ? `refused ${result.refused}` : op.kind)
    if (result.outcome) this.count(`reason ${result.outcome.reason} of ${op.kind}`)
    this.check()
    return result
  }

  private count(what: string) {
    this.stats[what] = (this.stats[what] ?? 0) + 1
  }

  private apply(op: SimOp): StepResult {
    switch (op.kind) {
      case 'deposit':
        return this.deposit(op)
      case 'job': {
        const u = this.users[op.user]!
        // The voucher is signed at request time, before the job runs.
        const v = this.sign(op.user, u.owed + this.price, u.maxNonce + 1n)
        u.latest = v
        u.owed = v.amount
        if (op.payable) u.payable++
        else {
          // Not payable (never triggered, lost): the Worker releases its price, but the voucher
          // the user signed still covers it.
          u.notPayable++
          u.owed -= this.price
        }
        return {}
      }
      case 'claim':
        return this.claim(op)
      case 'forgedClaim':
        // ChannelLedger.claim checks signatures and the count before it dispatches: no action.
        return { refused: forgeryError[op.forgery] }
      case 'requestWithdraw':
        return this.land(
          { ...this.action(op.user, ActionKind.requestWithdraw), nonce: op.closeNonce },
          undefined,
          { slot: this.slot + BigInt(SLOT_WINDOW) },
        )
      case 'withdraw':
        return this.land(this.action(op.user, ActionKind.withdraw), undefined, { slot: this.slot })
      case 'advance':
        this.slot += op.slots
        return {}
      case 'batch':
        return this.batch()
      case 'refund': {
        const u = this.users[op.user]!
        const due = this.committed.get(this.name(op.user)).refunded - u.pulled
        if (due === 0n) return { refused: ServiceErrors.nothingToRefund }
        this.vault -= due
        u.credits += due
        u.pulled += due
        return {}
      }
      case 'redeem':
        if (op.amount <= 0n) return { refused: ServiceErrors.zeroRedeem }
        if (op.amount > this.receipts) return { refused: ServiceErrors.redeemAbovePaid }
        this.vault -= op.amount
        this.runnerCredits += op.amount
        this.redeemed += op.amount
        return {}
      case 'expectClosed':
        for (const user of op.users) {
          const ch = this.committed.get(this.name(user))
          const u = this.users[user]!
          must(ch.resultsCount === u.payable, `user ${user}: not every payable result settled`)
          must(ch.paidSoFar === this.price * u.payable, `user ${user}: paid ${ch.paidSoFar}`)
          must(ch.withdrawRequestedAtSlot === 0n, `user ${user}: withdrawal still pending`)
          must(ch.deposited === ch.paidSoFar, `user ${user}: credits left in escrow`)
          must(
            ch.refunded === u.depositsProcessed - ch.paidSoFar,
            `user ${user}: refunded ${ch.refunded}, not deposit − paid`,
          )
        }
        return {}
    }
  }

  private sign(user: number, amount: bigint, nonce: bigint): Voucher {
    const u = this.users[user]!
    const v = { amount, nonce }
    u.vouchers.push(v)
    if (nonce > u.maxNonce) u.maxNonce = nonce
    if (amount > u.maxSigned) u.maxSigned = amount
    return v
  }

  /** A fresh voucher the user signs outside a job request (the belowResults case). */
  signVoucher(user: number, amount: bigint): Voucher {
    return this.sign(user, amount, this.users[user]!.maxNonce + 1n)
  }

  private action(user: number, kind: number): BookAction {
    return {
      kind,
      user: this.name(user),
      amount: 0n,
      nonce: 0n,
      slot: 0n,
      resultsRoot: 0n,
      resultsCount: 0n,
    }
  }

  private deposit(op: Extract<SimOp, { kind: 'deposit' }>): StepResult {
    if (op.amount <= 0n) return { refused: ServiceErrors.zeroDeposit }
    if (op.from === 'sponsor') {
      must(this.sponsorCredits >= op.amount, 'the sponsor deposits more than it holds')
      this.sponsorCredits -= op.amount
    } else {
      const from = this.users[op.from]!
      must(from.credits >= op.amount, `user ${op.from} deposits more than they hold`)
      from.credits -= op.amount
    }
    // The credits move into the vault when the deposit lands, before any batch.
    this.vault += op.amount
    this.users[op.user]!.depositsLanded += op.amount
    return this.land({ ...this.action(op.user, ActionKind.deposit), amount: op.amount })
  }

  private claim(op: Extract<SimOp, { kind: 'claim' }>): StepResult {
    must(op.count <= this.users[op.user]!.payable, 'the runner claims results it does not hold')
    return this.land(
      {
        ...this.action(op.user, ActionKind.settle),
        amount: op.voucher.amount,
        nonce: op.voucher.nonce,
        resultsRoot: this.config.rootOf(op.user, op.count),
        resultsCount: op.count,
      },
      op.intent,
    )
  }

  /** Lands an action: folds it into `all` and checks its outcome against what must happen. */
  private land(
    base: BookAction,
    intent?: ClaimIntent,
    extra: Partial<BookAction> = {},
  ): StepResult {
    const action = { ...base, ...extra }
    const user = this.config.names.indexOf(action.user)
    const before = this.all.get(action.user)
    const outcome = this.all.apply(action)
    this.expectOutcome(user, before, action, outcome, intent)
    this.pending.push({ action, outcome })
    return { outcome }
  }

  private expectOutcome(
    user: number,
    before: BookChannel,
    a: BookAction,
    out: ActionOutcome,
    intent?: ClaimIntent,
  ) {
    const { next } = out
    const unchanged = () =>
      must(
        sameChannel(next, before) && out.runnerPaid === 0n && out.refund === 0n,
        `user ${user}: a skipped action (reason ${out.reason}) changed something`,
      )
    if (a.kind === ActionKind.deposit) {
      must(out.reason === 0, 'a deposit was skipped')
      must(
        sameChannel(next, { ...before, deposited: before.deposited + a.amount }),
        'a deposit changed more than the deposit',
      )
    } else if (a.kind === ActionKind.settle) {
      const fresh = a.nonce > before.voucherNonce
      if (!fresh) must(out.reason === SkipReason.staleVoucher, 'a stale voucher was not refused')
      if (intent === 'belowResults')
        must(out.reason === SkipReason.voucherBelowResults, 'a voucher below results settled')
      if (intent === 'noNew' && fresh)
        must(out.reason === SkipReason.noNewResults, 'a claim adding nothing settled')
      // An honest claim must settle: fresh voucher, new results, deposit covering them.
      if (
        intent === 'honest' &&
        fresh &&
        a.resultsCount > before.resultsCount &&
        this.price * a.resultsCount <= before.deposited
      )
        must(out.reason === 0, `an honest claim was skipped (reason ${out.reason})`)
      if (out.reason !== 0) return unchanged()
      must(a.resultsCount > before.resultsCount, 'a settlement added no result')
      must(
        out.runnerPaid === this.price * (a.resultsCount - before.resultsCount),
        'the runner was not paid exactly price × the results added',
      )
      must(next.paidSoFar <= a.amount, 'paid more than the voucher signed')
      must(next.paidSoFar <= next.deposited, 'paid more than deposited')
      must(
        next.voucherNonce === a.nonce && next.resultsCount === a.resultsCount,
        'a settlement did not record its voucher and count',
      )
      if (a.amount > this.price * a.resultsCount) this.count('voucher covered a not-payable job')
    } else if (a.kind === ActionKind.requestWithdraw) {
      must(
        sameChannel(next, { ...before, withdrawRequestedAtSlot: a.slot, closeNonce: a.nonce }),
        'a withdrawal request changed more than its slot and close nonce',
      )
    } else if (a.kind === ActionKind.withdraw) {
      const due =
        before.withdrawRequestedAtSlot !== 0n &&
        a.slot >= before.withdrawRequestedAtSlot + this.config.terms.withdrawTimelockSlots
      if (!due) {
        must(out.reason !== 0, 'a withdrawal before its timelock (or unrequested) was applied')
        if (before.withdrawRequestedAtSlot !== 0n) this.count('withdraw before the timelock')
        return unchanged()
      }
      must(out.reason === 0, 'a withdrawal after its timelock was skipped')
      must(out.refund === before.deposited - before.paidSoFar, 'refund is not deposited − paid')
      must(
        next.deposited === before.paidSoFar && next.refunded === before.refunded + out.refund,
        'a withdrawal left credits in escrow or lost them',
      )
      must(next.voucherNonce >= before.closeNonce, 'a withdrawal did not close older vouchers')
      must(
        next.withdrawRequestedAtSlot === 0n && next.closeNonce === 0n,
        'a withdrawal left its request pending',
      )
    }
  }

  private batch(): StepResult {
    const taken = this.pending.splice(0, this.config.batchSize)
    must(taken.length > 0, 'a batch with nothing pending')
    const reasons: number[] = []
    let runnerPaid = 0n
    let refunded = 0n
    for (const { action, outcome } of taken) {
      const out = this.committed.apply(action)
      // processBatch's outcome depends on the actions before it only, not on when it runs.
      must(
        out.reason === outcome.reason &&
          out.runnerPaid === outcome.runnerPaid &&
          out.refund === outcome.refund &&
          sameChannel(out.next, outcome.next),
        'an action processed in a batch came out other than when it landed',
      )
      reasons.push(out.reason)
      runnerPaid += out.runnerPaid
      refunded += out.refund
      if (action.kind === ActionKind.deposit) {
        this.users[this.config.names.indexOf(action.user)]!.depositsProcessed += action.amount
      }
    }
    this.runnerPaid += runnerPaid
    this.refunded += refunded
    return { batch: { reasons, runnerPaid, refunded } }
  }

  /** Every invariant of the whole system; throws naming the first that breaks. */
  check(): void {
    const price = this.price
    const wallets = this.users.reduce((s, u) => s + u.credits, 0n)
    must(
      wallets + this.sponsorCredits + this.runnerCredits + this.vault === this.minted,
      'supply: wallets + vault + runner ≠ credits minted',
    )
    // Each credit in the vault is owned once: escrow, a pending deposit, a granted refund not
    // pulled, or the runner's pay not redeemed.
    let owed = this.receipts
    for (const p of this.pending) if (p.action.kind === ActionKind.deposit) owed += p.action.amount
    let settled = 0n
    let refunded = 0n
    for (const [i, u] of this.users.entries()) {
      const ch = this.committed.get(this.name(i))
      owed += ch.deposited - ch.paidSoFar + ch.refunded - u.pulled
      settled += ch.resultsCount
      refunded += ch.refunded
      must(u.pulled <= ch.refunded, `user ${i}: pulled more than granted`)
      for (const [book, deposits] of [
        [this.committed, u.depositsProcessed],
        [this.all, u.depositsLanded],
      ] as const) {
        const c = book.get(this.name(i))
        must(c.deposited + c.refunded === deposits, `user ${i}: deposits not accounted once`)
        must(c.paidSoFar <= c.deposited, `user ${i}: paid beyond the deposit`)
        must(c.refunded <= deposits - c.paidSoFar, `user ${i}: refunded more than deposited − paid`)
        must(c.paidSoFar === price * c.resultsCount, `user ${i}: paid ≠ price × results`)
        must(c.resultsCount <= u.payable, `user ${i}: more results settled than payable`)
        must(c.paidSoFar <= u.maxSigned, `user ${i}: paid more than they ever signed`)
      }
    }
    must(this.vault >= 0n && this.vault === owed, `vault ${this.vault} ≠ what it owes ${owed}`)
    must(this.runnerPaid === price * settled, 'runner paid ≠ price × payable results accepted')
    must(this.refunded === refunded, 'batch refunds ≠ refunds granted in channels')
    must(this.redeemed <= this.runnerPaid, 'the runner redeemed more than it was paid')
  }
}

const forgeryError: Record<Forgery, string> = {
  countAboveTree: ServiceErrors.resultsNotProved,
  countAboveSigned: ServiceErrors.badRunnerSignature,
  otherUsersLeaves: ServiceErrors.resultsNotProved,
  notRunnerKey: ServiceErrors.badRunnerSignature,
  voucherNotSigned: ServiceErrors.badVoucherSignature,
}

function sameChannel(a: BookChannel, b: BookChannel): boolean {
  return (Object.keys(a) as (keyof BookChannel)[]).every((k) => a[k] === b[k])
}

function must(condition: boolean, violation: string): asserts condition {
  if (!condition) throw new Error(`ledger invariant: ${violation}`)
}

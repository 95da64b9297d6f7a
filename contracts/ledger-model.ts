import {
  type ChannelValues,
  EMPTY_CHANNEL,
  type RuleOutcome,
  requestWithdrawRule,
  settleRule,
  withdrawRule,
} from './channel-rules.ts'
import { ServiceErrors } from './errors.ts'

// A whole-system model (credits, escrows, receipts, channels) driven by channel-rules.ts, for the
// property test: random operations, conservation, "never pays more than signed" and "pays exactly
// price × payable results" invariants, with not-payable jobs and forged result counts.

/** One random operation of the property test. */
export type LedgerOp =
  | { kind: 'deposit'; service: number; user: number; amount: bigint }
  | {
      kind: 'settle'
      service: number
      user: number
      /** Payable results the settlement adds to the user's tree. */
      payable: bigint
      /**
       * Jobs that ended not payable (lost, never triggered) that the voucher still covers: signed
       * before the Worker released them. They are never results, so never paid.
       */
      notPayable: bigint
      /** Results the runner claims beyond those the tree proves (a forged count when > 0). */
      forged: bigint
      /** Added to the voucher's amount beyond what the jobs cost (below it when negative). */
      delta: bigint
      nonce: 'next' | 'replay' | 'skip'
      forgery: 'none' | 'user' | 'runner' | 'stranger'
    }
  | { kind: 'requestWithdraw'; service: number; user: number }
  | { kind: 'withdraw'; service: number; user: number }
  | { kind: 'advance'; slots: bigint }

/** The model's view of one service. */
export interface ModelService {
  price: bigint
  timelock: bigint
  escrow: bigint
  runnerCredits: bigint
  channels: ChannelValues[]
  receipts: bigint[]
  /** Highest cumulative amount each user ever signed for this service. */
  maxSigned: bigint[]
  /** Highest voucher nonce each user ever signed for this service (what a withdrawal closes). */
  maxNonce: bigint[]
  /** Total the runner received from each user. */
  paidOut: bigint[]
}

/** The whole ledger. */
export interface Ledger {
  slot: bigint
  window: bigint
  credits: bigint[]
  services: ModelService[]
  supply: bigint
}

/** A fresh ledger: `users` users holding `credits` each, services with the given terms. */
export function newLedger(
  users: number,
  credits: bigint,
  terms: { price: bigint; timelock: bigint }[],
  window: bigint,
  slot = 0n,
): Ledger {
  return {
    slot,
    window,
    credits: Array(users).fill(credits),
    supply: credits * BigInt(users),
    services: terms.map((t) => ({
      ...t,
      escrow: 0n,
      runnerCredits: 0n,
      channels: Array(users).fill(EMPTY_CHANNEL),
      receipts: Array(users).fill(0n),
      maxSigned: Array(users).fill(0n),
      maxNonce: Array(users).fill(0n),
      paidOut: Array(users).fill(0n),
    })),
  }
}

/** The voucher a settle op signs, from the ledger before the op. */
export function settleVoucher(l: Ledger, op: Extract<LedgerOp, { kind: 'settle' }>) {
  const s = l.services[op.service]!
  const ch = s.channels[op.user]!
  const owed = ch.paidSoFar + s.price * (op.payable + op.notPayable) + op.delta
  const cumulativeAmount = owed < 0n ? 0n : owed
  const nonce =
    op.nonce === 'next'
      ? ch.voucherNonce + 1n
      : op.nonce === 'skip'
        ? ch.voucherNonce + 3n
        : ch.voucherNonce
  return { cumulativeAmount, nonce }
}

/** Applies `op` to the ledger; returns the outcome (error message or amount moved). */
export function applyOp(l: Ledger, op: LedgerOp, resultsRoot = 1n): RuleOutcome {
  if (op.kind === 'advance') {
    l.slot += op.slots
    return { ok: true, amount: 0n, jobs: 0n, next: EMPTY_CHANNEL }
  }
  const s = l.services[op.service]!
  const u = op.user
  if (op.kind === 'deposit') {
    if (op.amount <= 0n) return { ok: false, error: ServiceErrors.zeroDeposit }
    if (op.amount > l.credits[u]!) return { ok: false, error: 'insufficient credits' }
    l.credits[u]! -= op.amount
    s.escrow += op.amount
    s.receipts[u]! += op.amount
    return { ok: true, amount: op.amount, jobs: 0n, next: s.channels[u]! }
  }
  if (op.kind === 'settle') {
    const v = settleVoucher(l, op)
    // A forged voucher is not the user's signature: it does not count as signed by them.
    if (op.forgery !== 'user' && v.cumulativeAmount > s.maxSigned[u]!)
      s.maxSigned[u] = v.cumulativeAmount
    if (op.forgery !== 'user' && v.nonce > s.maxNonce[u]!) s.maxNonce[u] = v.nonce
    const channel = s.channels[u]!
    const r = settleRule({
      channel,
      deposit: s.receipts[u]!,
      pricePerJob: s.price,
      cumulativeAmount: v.cumulativeAmount,
      nonce: v.nonce,
      resultsRoot,
      resultsCount: channel.resultsCount + op.payable + op.forged,
      resultsProved: op.forged === 0n,
      runnerIsServiceRunner: op.forgery !== 'stranger',
      runnerSignatureValid: op.forgery !== 'runner',
      voucherSignatureValid: op.forgery !== 'user',
    })
    if (r.ok) {
      s.channels[u] = r.next
      s.escrow -= r.amount
      s.runnerCredits += r.amount
      s.paidOut[u]! += r.amount
    }
    return r
  }
  if (op.kind === 'requestWithdraw') {
    const r = requestWithdrawRule(s.channels[u]!, l.slot, l.window, s.maxNonce[u]!)
    if (r.ok) s.channels[u] = r.next
    return r
  }
  const r = withdrawRule(s.channels[u]!, s.receipts[u]!, l.slot, s.timelock)
  if (r.ok) {
    s.channels[u] = r.next
    s.escrow -= r.amount
    s.receipts[u]! -= r.amount
    l.credits[u]! += r.amount
  }
  return r
}

/** Checks conservation and payment bounds; returns the first violation, or null. */
export function ledgerViolation(l: Ledger): string | null {
  let total = l.credits.reduce((a, b) => a + b, 0n)
  for (const [i, s] of l.services.entries()) {
    total += s.escrow + s.runnerCredits
    if (s.escrow < 0n) return `service ${i}: negative escrow`
    let owed = 0n
    for (let u = 0; u < s.receipts.length; u++) {
      if (s.paidOut[u]! > s.maxSigned[u]!) return `service ${i} user ${u}: paid more than signed`
      if (s.paidOut[u]! !== s.price * s.channels[u]!.resultsCount)
        return `service ${i} user ${u}: paid ${s.paidOut[u]} for ${s.channels[u]!.resultsCount} results`
      if (s.channels[u]!.paidSoFar > s.receipts[u]!)
        return `service ${i} user ${u}: paid beyond deposit`
      owed += s.receipts[u]! - s.channels[u]!.paidSoFar
    }
    if (owed !== s.escrow) return `service ${i}: escrow ${s.escrow} != unspent deposits ${owed}`
  }
  if (total !== l.supply) return `supply ${l.supply} != balances + escrow ${total}`
  return null
}

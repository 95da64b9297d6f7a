import { ServiceErrors } from './errors.ts'

// The settle / withdraw rules of ServiceContract as plain bigint functions, in the contract's
// order of checks. The property test runs thousands of random operations against these and checks
// them against the real contract on a sample, so the two cannot drift apart unnoticed.

/** A channel as plain numbers (see Channel). */
export interface ChannelValues {
  paidSoFar: bigint
  voucherNonce: bigint
  withdrawRequestedAtSlot: bigint
  resultsRoot: bigint
}

/** The channel of a user who never settled nor withdrew. */
export const EMPTY_CHANNEL: ChannelValues = {
  paidSoFar: 0n,
  voucherNonce: 0n,
  withdrawRequestedAtSlot: 0n,
  resultsRoot: 0n,
}

/** A rule's outcome: the new channel and the amount moved, or the contract's error message. */
export type RuleOutcome =
  | { ok: true; next: ChannelValues; amount: bigint; jobs: bigint }
  | { ok: false; error: string }

/** Inputs of a settlement as the contract sees them. */
export interface SettleInput {
  channel: ChannelValues
  /** The user's receipt balance (cumulative deposit). */
  deposit: bigint
  pricePerJob: bigint
  cumulativeAmount: bigint
  nonce: bigint
  resultsRoot: bigint
  runnerIsServiceRunner: boolean
  runnerSignatureValid: boolean
  voucherSignatureValid: boolean
}

/** What settle does: pays cumulativeAmount - paidSoFar, never beyond the deposit. */
export function settleRule(s: SettleInput): RuleOutcome {
  if (!s.runnerIsServiceRunner) return { ok: false, error: ServiceErrors.notRunner }
  if (!s.runnerSignatureValid) return { ok: false, error: ServiceErrors.badRunnerSignature }
  if (!s.voucherSignatureValid) return { ok: false, error: ServiceErrors.badVoucherSignature }
  if (s.nonce <= s.channel.voucherNonce) return { ok: false, error: ServiceErrors.staleVoucher }
  if (s.cumulativeAmount < s.channel.paidSoFar) {
    return { ok: false, error: ServiceErrors.voucherBelowPaid }
  }
  if (s.cumulativeAmount > s.deposit) return { ok: false, error: ServiceErrors.voucherAboveDeposit }
  const amount = s.cumulativeAmount - s.channel.paidSoFar
  const jobs = s.pricePerJob === 0n ? 0n : amount / s.pricePerJob
  return {
    ok: true,
    amount,
    jobs,
    next: {
      ...s.channel,
      paidSoFar: s.cumulativeAmount,
      voucherNonce: s.nonce,
      resultsRoot: s.resultsRoot,
    },
  }
}

/** What requestWithdraw does: starts the timelock at the last slot the request can land in. */
export function requestWithdrawRule(
  channel: ChannelValues,
  nowSlot: bigint,
  window: bigint,
): RuleOutcome {
  return {
    ok: true,
    amount: 0n,
    jobs: 0n,
    next: { ...channel, withdrawRequestedAtSlot: nowSlot + window },
  }
}

/** What withdraw does: refunds deposit - paidSoFar once the timelock is over. */
export function withdrawRule(
  channel: ChannelValues,
  deposit: bigint,
  nowSlot: bigint,
  timelockSlots: bigint,
): RuleOutcome {
  if (channel.withdrawRequestedAtSlot === 0n) {
    return { ok: false, error: ServiceErrors.withdrawNotRequested }
  }
  if (nowSlot < channel.withdrawRequestedAtSlot + timelockSlots) {
    return { ok: false, error: ServiceErrors.timelockNotOver }
  }
  return {
    ok: true,
    amount: deposit - channel.paidSoFar,
    jobs: 0n,
    next: { ...channel, withdrawRequestedAtSlot: 0n },
  }
}

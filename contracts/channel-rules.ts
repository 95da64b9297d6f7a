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
  resultsCount: bigint
  closeNonce: bigint
}

/** The channel of a user who never settled nor withdrew. */
export const EMPTY_CHANNEL: ChannelValues = {
  paidSoFar: 0n,
  voucherNonce: 0n,
  withdrawRequestedAtSlot: 0n,
  resultsRoot: 0n,
  resultsCount: 0n,
  closeNonce: 0n,
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
  /** The number of results the runner claims the new root holds. */
  resultsCount: bigint
  /** Whether the count proof holds: the last leaf is this user's, the next one is empty. */
  resultsProved: boolean
  runnerIsServiceRunner: boolean
  runnerSignatureValid: boolean
  voucherSignatureValid: boolean
}

/** What settle does: pays price × the results newly added, within the voucher and the deposit. */
export function settleRule(s: SettleInput): RuleOutcome {
  if (!s.runnerIsServiceRunner) return { ok: false, error: ServiceErrors.notRunner }
  if (!s.runnerSignatureValid) return { ok: false, error: ServiceErrors.badRunnerSignature }
  if (!s.voucherSignatureValid) return { ok: false, error: ServiceErrors.badVoucherSignature }
  if (s.nonce <= s.channel.voucherNonce) return { ok: false, error: ServiceErrors.staleVoucher }
  if (s.resultsCount <= s.channel.resultsCount)
    return { ok: false, error: ServiceErrors.noNewResults }
  if (!s.resultsProved) return { ok: false, error: ServiceErrors.resultsNotProved }
  const jobs = s.resultsCount - s.channel.resultsCount
  const amount = s.pricePerJob * jobs
  const paidSoFar = s.channel.paidSoFar + amount
  if (paidSoFar > s.cumulativeAmount) return { ok: false, error: ServiceErrors.voucherBelowResults }
  if (paidSoFar > s.deposit) return { ok: false, error: ServiceErrors.voucherAboveDeposit }
  return {
    ok: true,
    amount,
    jobs,
    next: {
      ...s.channel,
      paidSoFar,
      voucherNonce: s.nonce,
      resultsRoot: s.resultsRoot,
      resultsCount: s.resultsCount,
    },
  }
}

/** What requestWithdraw does: starts the timelock at the last slot the request can land in. */
export function requestWithdrawRule(
  channel: ChannelValues,
  nowSlot: bigint,
  window: bigint,
  closeNonce: bigint,
): RuleOutcome {
  return {
    ok: true,
    amount: 0n,
    jobs: 0n,
    next: { ...channel, withdrawRequestedAtSlot: nowSlot + window, closeNonce },
  }
}

/** What withdraw does: refunds deposit - paidSoFar once the timelock is over, and closes old vouchers. */
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
  // Bigints: Math.max does not take them.
  let voucherNonce = channel.voucherNonce
  if (channel.closeNonce > voucherNonce) voucherNonce = channel.closeNonce
  return {
    ok: true,
    amount: deposit - channel.paidSoFar,
    jobs: 0n,
    next: {
      ...channel,
      voucherNonce,
      withdrawRequestedAtSlot: 0n,
      closeNonce: 0n,
    },
  }
}

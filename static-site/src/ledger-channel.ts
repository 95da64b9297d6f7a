import type { BookChannel, ServiceTerms } from '../../protocol/index.ts'

// The user's channel in a service's ChannelLedger as the page shows it, and which of its money
// buttons can do anything now. Pure (no o1js, no DOM): ledger-read.ts reads the
// chain, this decides what it means for the user.

/**
 * What the chain proves of one user's channel: both books of the ledger (protocol's LedgerBook,
 * folded from actions checked against the ledger's action states on chain, ledger-read.ts), the
 * refunds the user already pulled, and the chain's slot.
 */
export interface ChannelReading {
  /** The user (base58). */
  user: string
  ledger: string
  terms: ServiceTerms
  /** Every landed action folded: what the chain holds once every pending batch is applied. */
  all: BookChannel
  /** The processed prefix: what the ledger's channels root commits to now. */
  committed: BookChannel
  /** Refunds the user pulled so far (their payout-receipt balance under the ledger's token). */
  pulled: bigint
  /** Actions of any user landed and not applied by a batch yet. */
  pendingActions: number
  /** The chain's current global slot. */
  slot: bigint
}

/** What the page's channel view shows, in credits and slots. */
export interface ChannelFacts {
  /** Deposited for the user (after a withdrawal: what stayed, the amount paid). */
  deposited: bigint
  /** Paid to the runner so far (its claims that landed, applied or not). */
  paid: bigint
  /** Of `paid`, what the runner claimed and no batch applied yet. */
  paidPending: bigint
  /** Still the user's in escrow: deposited − paid. */
  escrowed: bigint
  /** A withdrawal request that landed: its timelock ends at `endsAt`. */
  withdrawal: { requestedAt: bigint; endsAt: bigint; over: boolean; slotsLeft: bigint } | null
  /** Refund a batch granted and the user has not pulled: theirs to pull now. */
  refundPullable: bigint
  /** Refund of a withdrawal that landed and no batch applied yet. */
  refundWaiting: bigint
  pendingActions: number
}

export function channelFacts(r: ChannelReading): ChannelFacts {
  const { all, committed } = r
  const requested = all.withdrawRequestedAtSlot
  const endsAt = requested + r.terms.withdrawTimelockSlots
  const pullable = committed.refunded - r.pulled
  return {
    deposited: all.deposited,
    paid: all.paidSoFar,
    paidPending: all.paidSoFar - committed.paidSoFar,
    escrowed: all.deposited - all.paidSoFar,
    withdrawal:
      requested === 0n
        ? null
        : {
            requestedAt: requested,
            endsAt,
            over: r.slot >= endsAt,
            slotsLeft: r.slot >= endsAt ? 0n : endsAt - r.slot,
          },
    // Never negative: pulled above granted would be a chain the page cannot explain; 0 is shown.
    refundPullable: pullable > 0n ? pullable : 0n,
    refundWaiting: all.refunded - committed.refunded,
    pendingActions: r.pendingActions,
  }
}

/** The money buttons of the channel view. */
export type ChannelAction = 'request-withdraw' | 'withdraw' | 'process-batch' | 'refund'

/** Whether a button can do anything now, and if not, why (shown beside it). */
export interface ActionState {
  enabled: boolean
  reason: string
}

const on = (reason: string): ActionState => ({ enabled: true, reason })
const off = (reason: string): ActionState => ({ enabled: false, reason })

/**
 * Which buttons do something now. A withdrawal sent before its timelock ends is not refused at
 * dispatch: the batch skips it (`timelockNotOver`) and the user paid a fee for nothing, so the
 * page does not send one before the slot it ends at and says when.
 */
export function channelActions(f: ChannelFacts): Record<ChannelAction, ActionState> {
  const w = f.withdrawal
  return {
    'request-withdraw': w
      ? off(`Withdrawal already requested; its timelock ends at slot ${w.endsAt}.`)
      : f.escrowed > 0n
        ? on(
            `Starts the timelock: the runner may still claim jobs you ran until it ends, then you withdraw ${f.escrowed} credits.`,
          )
        : off('Nothing in escrow to withdraw.'),
    withdraw: !w
      ? off('Request withdrawal first.')
      : w.over
        ? on(`The timelock ended at slot ${w.endsAt}: withdraw what the runner has not claimed.`)
        : off(
            `The timelock ends at slot ${w.endsAt}, ${w.slotsLeft} slot${w.slotsLeft === 1n ? '' : 's'} from now: withdraw from then on (sent sooner, a batch skips it).`,
          ),
    'process-batch':
      f.pendingActions > 0
        ? on(
            `${f.pendingActions} action${f.pendingActions === 1 ? '' : 's'} wait for a batch; anyone may apply them, you too.`,
          )
        : off('No action waits for a batch.'),
    refund:
      f.refundPullable > 0n
        ? on(`${f.refundPullable} credits are yours to pull.`)
        : f.refundWaiting > 0n
          ? off(
              `Your refund of ${f.refundWaiting} credits waits for a batch: process it, then pull.`,
            )
          : off('Nothing to refund.'),
  }
}

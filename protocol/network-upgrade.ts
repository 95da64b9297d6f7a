// A Mina hard fork is announced by its stop slots: a release sets `slot_tx_end` (from that slot
// on, blocks carry no transactions) and `slot_chain_end` (no more blocks), and the daemon reports
// its runtime configuration through GraphQL `runtimeConfig` (a JSON value; the stop slots sit under
// `daemon`). After the fork a frozen service's `setVerificationKey` permission falls back to a
// signature (o1js 2.15 `impossibleDuringCurrentVersion`), so its key holder could replace the code
// and drain the vault. A user must therefore be able to withdraw before `slot_tx_end`: these rules
// say when an upgrade is announced and whether a deposit made now can still come back in time.
// Every reader (the page, the deploy CLI) uses them; none trusts an operator for it.

import { SLOT_WINDOW } from './chain-layout.ts'

/** The stop slots a node announces; null where none is set. */
export interface StopSlots {
  /** From this global slot on, blocks include no transactions. */
  txEnd: bigint | null
  /** From this global slot on, no blocks are produced. */
  chainEnd: bigint | null
}

/** No upgrade announced. */
export const NO_STOP_SLOTS: StopSlots = { txEnd: null, chainEnd: null }

// Slots are UInt32 on chain: anything else in a node's answer is not a stop slot.
const slotOf = (v: unknown): bigint | null => {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 0xffff_ffff)
    return BigInt(v)
  if (typeof v === 'string' && /^\d{1,10}$/.test(v)) {
    const n = BigInt(v)
    return n <= 0xffff_ffffn ? n : null
  }
  return null
}

/**
 * The stop slots in a daemon's `runtimeConfig` JSON (`daemon.slot_tx_end`, `daemon.slot_chain_end`).
 * Anything malformed reads as not set: this only ever adds a warning, never removes one the
 * page shows for another reason.
 */
export function stopSlotsOf(runtimeConfig: unknown): StopSlots {
  if (typeof runtimeConfig !== 'object' || runtimeConfig === null) return NO_STOP_SLOTS
  const daemon = (runtimeConfig as { daemon?: unknown }).daemon
  if (typeof daemon !== 'object' || daemon === null) return NO_STOP_SLOTS
  const d = daemon as { slot_tx_end?: unknown; slot_chain_end?: unknown }
  return { txEnd: slotOf(d.slot_tx_end), chainEnd: slotOf(d.slot_chain_end) }
}

/** What a reader tells users about a network upgrade. */
export type UpgradeNotice =
  | { kind: 'none' }
  /** Transactions stop at `txEndSlot`, `slotsLeft` slots from now. */
  | { kind: 'announced'; txEndSlot: bigint; slotsLeft: bigint }
  /** Transactions have stopped: nothing can be deposited or withdrawn on this network any more. */
  | { kind: 'stopped'; txEndSlot: bigint }

/** The notice for the current slot. A chain end without a transaction end counts as one. */
export function upgradeNotice(stop: StopSlots, currentSlot: bigint): UpgradeNotice {
  // The earlier of the two (bigints: Math.min does not take them).
  let end = stop.txEnd
  if (stop.chainEnd !== null && (end === null || stop.chainEnd < end)) end = stop.chainEnd
  if (end === null) return { kind: 'none' }
  if (currentSlot >= end) return { kind: 'stopped', txEndSlot: end }
  return { kind: 'announced', txEndSlot: end, slotsLeft: end - currentSlot }
}

/**
 * Whether a deposit made now can still be withdrawn before transactions stop: the withdrawal
 * request must land (one SLOT_WINDOW), wait out the timelock, and the withdrawal land (one more
 * window), all before `txEndSlot`. When it cannot, the page takes no deposit for that service.
 */
export function depositRecoverable(notice: UpgradeNotice, withdrawTimelockSlots: bigint): boolean {
  if (notice.kind === 'none') return true
  if (notice.kind === 'stopped') return false
  return notice.slotsLeft > withdrawTimelockSlots + 2n * BigInt(SLOT_WINDOW)
}

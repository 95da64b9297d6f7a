import {
  depositRecoverable,
  type ServiceTerms,
  type UpgradeNotice,
} from '../../../protocol/index.ts'
import { h } from './dom.ts'

// A hard fork lets a frozen service's key holder replace its code afterwards (the permission
// freezes only for the current transaction version), so users hear of an announced upgrade here,
// from the node itself, and the page takes no deposit that could not come back before it.

/** The banner for an announced or past upgrade, or nothing. */
export function renderUpgradeNotice(root: HTMLElement, notice: UpgradeNotice): void {
  if (notice.kind === 'none') {
    root.replaceChildren()
    return
  }
  const text =
    notice.kind === 'stopped'
      ? `Transactions stopped at slot ${notice.txEndSlot} for a network upgrade: nothing can be deposited or withdrawn on this network any more.`
      : `Network upgrade announced: transactions stop at slot ${notice.txEndSlot}, ${notice.slotsLeft} slots from now. After an upgrade, a service's frozen code can be replaced by its key holder: withdraw your deposits before slot ${notice.txEndSlot}.`
  root.replaceChildren(
    h('p', { class: 'badge warn', role: 'alert', 'data-role': 'network-upgrade' }, text),
  )
}

/** Why a deposit into a service with these terms is refused now, or null when it is not. */
export function depositBlockedBy(notice: UpgradeNotice, terms: ServiceTerms): string | null {
  if (depositRecoverable(notice, terms.withdrawTimelockSlots)) return null
  if (notice.kind === 'stopped') return 'Transactions have stopped for a network upgrade.'
  return `No deposit: a network upgrade stops transactions at slot ${notice.kind === 'announced' ? notice.txEndSlot : ''}, sooner than a withdrawal could come back (request, ${terms.withdrawTimelockSlots}-slot timelock, withdrawal).`
}

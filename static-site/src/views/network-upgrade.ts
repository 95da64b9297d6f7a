import {
  depositRecoverable,
  type ServiceTerms,
  type UpgradeNotice,
} from '../../../protocol/index.ts'
import { h } from './dom.ts'

// A hard fork lets a frozen service's key holder replace its code afterwards (the permission
// freezes only for the current transaction version), so users hear of an announced upgrade here,
// from the node itself, and the page takes no deposit that could not come back before it.

/** What the page knows of an upgrade: the node's notice, or `unknown` when the node cannot say. */
export type PageUpgradeNotice = UpgradeNotice | { kind: 'unknown' }

/** The banner for an announced or past upgrade, a note when the node cannot say, or nothing. */
export function renderUpgradeNotice(root: HTMLElement, notice: PageUpgradeNotice): void {
  if (notice.kind === 'none') {
    root.replaceChildren()
    return
  }
  if (notice.kind === 'unknown') {
    // Not a refusal: many nodes answer no runtimeConfig. But the user is not told "no upgrade".
    root.replaceChildren(
      h(
        'p',
        { class: 'muted', 'data-role': 'network-upgrade-unknown' },
        'This node does not say whether a network upgrade is planned (no runtimeConfig). After an upgrade a frozen service can be changed by its key holder: check the network’s announcements before depositing much.',
      ),
    )
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
export function depositBlockedBy(notice: PageUpgradeNotice, terms: ServiceTerms): string | null {
  if (notice.kind === 'stopped') return 'Transactions have stopped for a network upgrade.'
  if (notice.kind !== 'announced' || depositRecoverable(notice, terms.withdrawTimelockSlots))
    return null
  return `No deposit: a network upgrade stops transactions at slot ${notice.txEndSlot}, sooner than a withdrawal could come back (request, ${terms.withdrawTimelockSlots}-slot timelock, withdrawal).`
}

import type { VerificationLink } from '../../../verify/index.ts'
import { LINKS, type LinkId } from '../../../verify/index.ts'
import { h } from './dom.ts'

const ICON = { ok: '✔', broken: '✘', pending: '…' } as const

/** The verification panel: every link of the chain, each checked, broken (named) or pending. */
export function verificationPanel(): {
  el: HTMLElement
  update(l: VerificationLink): void
  finish(links: readonly VerificationLink[]): void
  fail(reason: string): void
} {
  const items = new Map<LinkId, HTMLLIElement>()
  const summary = h('p', { 'data-role': 'verify-summary', role: 'status' }, 'Verifying…')
  const list = h('ol', { class: 'links' })
  for (const [id, name] of Object.entries(LINKS) as [LinkId, string][]) {
    const li = h('li', { 'data-link': id, 'data-status': 'pending' }, `${ICON.pending} ${name}`)
    items.set(id, li)
    list.append(li)
  }
  const update = (l: VerificationLink) => {
    const li = items.get(l.id)
    if (!li) return
    li.dataset.status = l.status
    li.replaceChildren(
      h('span', { class: 'icon', 'aria-hidden': 'true' }, ICON[l.status]),
      ' ',
      h('strong', {}, l.name),
      h('span', { class: 'visually-hidden' }, ` ${l.status}`),
      h('div', { class: 'detail' }, l.detail),
    )
  }
  return {
    el: h(
      'section',
      { class: 'verification', 'aria-label': 'Verification' },
      h('h3', {}, 'Verification'),
      summary,
      list,
    ),
    update,
    fail(reason) {
      summary.dataset.result = 'broken'
      summary.textContent = `Verification failed: ${reason}`
    },
    finish(links) {
      links.forEach(update)
      const broken = links.filter((l) => l.status === 'broken')
      const pending = links.filter((l) => l.status === 'pending')
      summary.dataset.result = broken.length > 0 ? 'broken' : pending.length > 0 ? 'pending' : 'ok'
      summary.textContent =
        broken.length > 0
          ? `Broken link: ${broken.map((l) => l.name).join('; ')}`
          : pending.length > 0
            ? `Every checked link holds; pending: ${pending.map((l) => l.name).join('; ')}`
            : 'Every link of the chain holds.'
    },
  }
}

/**
 * Content of a bundle whose chain to the runner does not hold: shown, since a failed job's logs
 * still help, but only under a label that says nobody vouches for it.
 */
export function unverifiedSection(content: readonly HTMLElement[]): HTMLElement {
  return h(
    'section',
    { class: 'unverified', 'data-role': 'unverified', 'aria-label': 'Unverified content' },
    h(
      'p',
      { class: 'badge bad', role: 'note' },
      'Unverified: the runner does not vouch for what follows (a link above is broken or pending). Do not trust it.',
    ),
    ...content,
  )
}

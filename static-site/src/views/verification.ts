import type { VerificationLink } from '../verify/links.ts'
import { LINKS, type LinkId } from '../verify/links.ts'
import { h } from './dom.ts'

const ICON = { ok: '✔', broken: '✘', pending: '…' } as const

/** The verification panel: every link of the chain, each checked, broken (named) or pending. */
export function verificationPanel(): {
  el: HTMLElement
  update(l: VerificationLink): void
  finish(links: readonly VerificationLink[]): void
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

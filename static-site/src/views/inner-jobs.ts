import type { InnerVerification } from '../../../verify/index.ts'
import { firstBroken } from '../../../verify/index.ts'
import { h } from './dom.ts'

const ICON = { ok: '✔', broken: '✘', pending: '…' } as const

/**
 * The tree of driver jobs a higher-order result used: each inner job with its service, its
 * bundle and its own links, and below it the inner jobs it used in turn. Every name and detail
 * is text (escaped by the DOM), never markup: an inner bundle is as untrusted as the outer one.
 */
export function innerJobsTree(inner: readonly InnerVerification[]): HTMLElement | null {
  if (inner.length === 0) return null
  return h(
    'section',
    { class: 'inner-jobs', 'data-role': 'inner-jobs', 'aria-label': 'Inner jobs' },
    h('h3', {}, 'Inner jobs (driver calls)'),
    list(inner),
  )
}

function list(inner: readonly InnerVerification[]): HTMLElement {
  return h(
    'ol',
    { class: 'inner-tree' },
    ...inner.map((i) => {
      const broken = firstBroken(i.outcome.links)
      const status = broken || i.mismatch ? 'broken' : 'ok'
      const links = h(
        'ol',
        // Not `links`: the outer chain's list is the one views and tests read by that class.
        { class: 'inner-links' },
        ...i.outcome.links.map((l) =>
          h(
            'li',
            { 'data-link': l.id, 'data-status': l.status },
            `${ICON[l.status]} ${l.name}: ${l.detail}`,
          ),
        ),
      )
      const children = i.outcome.inner.length > 0 ? [list(i.outcome.inner)] : []
      return h(
        'li',
        { 'data-inner-job': i.job.jobId, 'data-status': status },
        h('strong', {}, `${ICON[status]} job ${i.job.jobId}`),
        ` of ${i.job.service} · bundle ${i.job.bundleCid}`,
        ...(i.mismatch ? [h('div', { class: 'detail' }, i.mismatch)] : []),
        links,
        ...children,
      )
    }),
  )
}

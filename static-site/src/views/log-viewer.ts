import { h } from './dom.ts'

const MAX_LINES = 5000

/** A log viewer with tabs per file and a search that keeps only matching lines, highlighted. */
export function renderLogs(logs: ReadonlyMap<string, string>): HTMLElement {
  const names = [...logs.keys()]
  let current = names[0] ?? ''
  let query = ''
  const pre = h('pre', { class: 'log', 'data-role': 'log', tabindex: 0 })
  const count = h('span', { class: 'muted', 'aria-live': 'polite' })
  const draw = () => {
    const lines = (logs.get(current) ?? '').split('\n')
    const q = query.toLowerCase()
    const shown = (q ? lines.filter((l) => l.toLowerCase().includes(q)) : lines).slice(0, MAX_LINES)
    pre.replaceChildren(
      ...shown.flatMap((line) => {
        if (!q) return [line, '\n']
        const at = line.toLowerCase().indexOf(q)
        return [
          line.slice(0, at),
          h('mark', {}, line.slice(at, at + q.length)),
          line.slice(at + q.length),
          '\n',
        ]
      }),
    )
    count.textContent = q ? `${shown.length} matching lines` : `${lines.length} lines`
  }
  const tabs = h(
    'div',
    { role: 'tablist' },
    ...names.map((n) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          'aria-selected': n === current ? 'true' : 'false',
          onclick: (e: Event) => {
            current = n
            for (const b of tabs.querySelectorAll('button'))
              b.setAttribute('aria-selected', String(b === e.currentTarget))
            draw()
          },
        },
        n,
      ),
    ),
  )
  const search = h('input', {
    type: 'search',
    name: 'log-search',
    'aria-label': 'Search the log',
    placeholder: 'search the log',
    oninput: (e: Event) => {
      query = (e.target as HTMLInputElement).value
      draw()
    },
  })
  draw()
  return h(
    'section',
    { class: 'logs', 'aria-label': 'Logs' },
    h('h3', {}, 'Logs'),
    tabs,
    search,
    ' ',
    count,
    pre,
  )
}

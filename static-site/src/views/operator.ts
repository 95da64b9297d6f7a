import type { OperatorVersion } from '../operator-view.ts'
import { h, short } from './dom.ts'
import { reasonText } from './services.ts'

/** The "My services" table: one row per version of the operator's key, newest listing first. */
export function renderOperatorVersions(
  root: HTMLElement,
  operator: string,
  versions: readonly OperatorVersion[],
): void {
  const stateCell = (v: OperatorVersion) =>
    v.state.kind === 'live'
      ? h('span', { class: 'badge good' }, 'Live')
      : v.state.kind === 'retired'
        ? h('span', { class: 'badge' }, 'Retired')
        : h('span', { class: 'badge bad' }, `Disabled: ${reasonText(v.state.reason)}`)
  const dash = (x: unknown) => (x === null || x === undefined ? '—' : String(x))
  root.replaceChildren(
    h('p', { class: 'muted' }, `${versions.length} versions listed by ${short(operator, 6)}`),
    h(
      'table',
      { class: 'operator-versions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'Version',
            'State',
            'Heartbeat age',
            'Jobs run',
            'Charged (Worker)',
            'Pending result',
            'Settled jobs',
            'Earnings settled',
            'Awaiting settlement',
          ].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        {},
        ...versions.map((v) =>
          h(
            'tr',
            { 'data-service': v.service, 'data-state': v.state.kind },
            h(
              'td',
              {},
              h('strong', {}, v.name ?? '(descriptor unavailable)'),
              h('br'),
              h('code', { title: v.service }, short(v.service)),
            ),
            h('td', { 'data-role': 'state' }, stateCell(v)),
            h(
              'td',
              { class: 'num', 'data-role': 'heartbeat-age' },
              v.heartbeatAgeSlots === null ? '—' : `${v.heartbeatAgeSlots} slots`,
            ),
            h('td', { class: 'num', 'data-role': 'jobs' }, dash(v.jobs?.jobs)),
            h(
              'td',
              { class: 'num', 'data-role': 'charged' },
              v.jobs ? `${v.jobs.charged.jobs} (${v.jobs.charged.amount} credits)` : '—',
            ),
            h(
              'td',
              { class: 'num', 'data-role': 'pending' },
              v.jobs ? `${v.jobs.pending.jobs} (${v.jobs.pending.amount} credits)` : '—',
            ),
            h('td', { class: 'num', 'data-role': 'settled' }, dash(v.settledJobs)),
            h(
              'td',
              { class: 'num', 'data-role': 'earnings' },
              v.earningsSettled === null ? '—' : `${v.earningsSettled} credits`,
            ),
            h('td', { class: 'num', 'data-role': 'awaiting' }, dash(v.awaitingSettlement)),
          ),
        ),
      ),
    ),
  )
}

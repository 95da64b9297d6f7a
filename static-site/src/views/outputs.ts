import type { OutputsSummary } from '../verify/outputs.ts'
import { h } from './dom.ts'

const shown = (v: string | boolean | null): string =>
  v === null ? '(not written)' : typeof v === 'boolean' ? String(v) : v

/**
 * A result's typed outputs: each value from the signed manifest, whether they matched the
 * service's declarations, and their outputsDigest (what a zkApp reads them by). Values are text
 * nodes, never markup: a job chooses them.
 */
export function outputsSection(o: OutputsSummary): HTMLElement {
  const declared = o.declaration === 'matches'
  return h(
    'section',
    { class: 'outputs', 'data-role': 'outputs', 'aria-label': 'Outputs' },
    h('h3', {}, 'Outputs'),
    h(
      'p',
      {
        class: `badge ${o.valid && declared ? 'good' : 'bad'}`,
        'data-role': 'outputs-status',
        'data-valid': String(o.valid),
      },
      o.valid
        ? 'Outputs valid: checked by the runner against the service’s declarations, signed in the manifest'
        : 'Outputs invalid: the job’s outputs do not match the service’s declarations (the result is still delivered)',
    ),
    h(
      'table',
      { 'data-role': 'outputs-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', {}, 'Value'))),
      h(
        'tbody',
        {},
        ...o.values.map((v) =>
          h(
            'tr',
            { 'data-output': v.name },
            h('td', {}, v.name),
            h('td', {}, v.type),
            h('td', {}, h('code', {}, shown(v.value))),
          ),
        ),
      ),
    ),
    o.problems.length > 0
      ? h('ul', { 'data-role': 'outputs-problems' }, ...o.problems.map((p) => h('li', {}, p)))
      : null,
    h(
      'p',
      { 'data-role': 'outputs-declaration' },
      declared
        ? 'Laid out as the service descriptor on chain declares them.'
        : o.declaration === 'unknown'
          ? 'The service descriptor could not be read: their layout is not checked.'
          : `Not as the service declares them: ${o.declaration}`,
    ),
    h(
      'p',
      { 'data-role': 'outputs-digest' },
      'outputsDigest (Poseidon of the output Fields): ',
      h('code', {}, o.outputsDigest),
    ),
  )
}

import type { OutputsSummary } from '../../../verify/index.ts'
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
      // "Valid" is the runner's own check, against the declarations it was handed: it says the
      // service's declarations only when the layout matches the descriptor on chain.
      !o.valid
        ? 'Outputs invalid: the job’s outputs do not match the service’s declarations (the result is still delivered)'
        : declared
          ? 'Outputs valid: checked by the runner against the service’s declarations, signed in the manifest'
          : o.declaration === 'unknown'
            ? 'Outputs checked by the runner, but the service’s declarations could not be read: not known to be the service’s'
            : 'Outputs not as the service declares them: the runner checked them against other declarations',
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

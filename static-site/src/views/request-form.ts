import {
  type ParameterSpec,
  type ParameterValues,
  type ServiceDescriptor,
  validateParameters,
} from '../../../protocol/index.ts'
import { h } from './dom.ts'

function field(spec: ParameterSpec): HTMLElement {
  const id = `param-${spec.name}`
  const label = h('label', { for: id }, spec.name, spec.required ? ' *' : '')
  const help = spec.description ? h('small', { class: 'muted' }, spec.description) : null
  let input: HTMLElement
  switch (spec.type) {
    case 'enum':
      input = h(
        'select',
        { id, name: spec.name },
        ...(spec.required ? [] : [h('option', { value: '' }, '(none)')]),
        ...spec.values.map((v) => h('option', { value: v, selected: v === spec.default }, v)),
      )
      break
    case 'boolean':
      input = h('input', { id, name: spec.name, type: 'checkbox', checked: spec.default === true })
      break
    case 'integer':
      input = h('input', {
        id,
        name: spec.name,
        type: 'number',
        step: 1,
        min: spec.min,
        max: spec.max,
        value: spec.default,
        required: spec.required && spec.default === undefined,
      })
      break
    case 'string':
      input = h('input', {
        id,
        name: spec.name,
        type: 'text',
        maxlength: spec.maxLength,
        minlength: spec.minLength,
        pattern: spec.pattern,
        value: spec.default,
        required: spec.required && spec.default === undefined,
      })
      break
  }
  return h('div', { class: 'field' }, label, input, help)
}

/** Reads the form's values typed as the specs say; empty optional fields are left out. */
export function readValues(
  form: HTMLFormElement,
  specs: readonly ParameterSpec[],
): ParameterValues {
  const values: ParameterValues = {}
  for (const spec of specs) {
    const el = form.elements.namedItem(spec.name) as HTMLInputElement | HTMLSelectElement | null
    if (!el) continue
    if (spec.type === 'boolean') {
      values[spec.name] = (el as HTMLInputElement).checked
      continue
    }
    if (el.value === '') continue
    values[spec.name] = spec.type === 'integer' ? Number(el.value) : el.value
  }
  return values
}

/**
 * A form generated from the service's typed parameter schema; values are checked with the same
 * `validateParameters` the Worker runs before anything is signed or sent.
 */
export function renderRequestForm(
  descriptor: ServiceDescriptor,
  /** The price per job the contract's terms hold (what is signed and charged). */
  price: bigint,
  onSubmit: (values: ParameterValues) => Promise<void>,
): HTMLFormElement {
  const error = h('p', { class: 'error', role: 'alert', 'data-role': 'form-error' })
  const button = h('button', { type: 'submit' }, `Request a job (${price} credits)`)
  const form = h(
    'form',
    { class: 'request', 'aria-label': 'Request a job', novalidate: true },
    ...descriptor.parameters.map(field),
    error,
    button,
  )
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    error.textContent = ''
    const values = readValues(form, descriptor.parameters)
    const checked = validateParameters(descriptor.parameters, values)
    if (!checked.ok) {
      error.textContent = checked.error.message
      return
    }
    button.disabled = true
    try {
      await onSubmit(values)
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err)
    } finally {
      button.disabled = false
    }
  })
  return form
}

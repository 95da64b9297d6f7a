import {
  checkDriver,
  type DriverFacts,
  driverParameters,
  type ParameterSpec,
  type ParameterValues,
  type ServiceDescriptor,
  type ServiceParameterSpec,
  validateParameters,
} from '../../../protocol/index.ts'
import { h, short } from './dom.ts'
import { reasonText } from './services.ts'

/** Where the form finds drivers for `service` parameters: the market, and any other address. */
export interface DriverSource {
  /** The market's services, each with the facts protocol's driver rule decides on. */
  candidates: readonly { address: string; name: string; facts: DriverFacts }[]
  /** The facts of any address, read when the request is made (a listed one's from the market). */
  factsOf(address: string): Promise<DriverFacts>
}

/**
 * A driver's field: a picker of the market's services that pass the driver rule for this spec,
 * and a text field for any address (the picker fills it; the text is what is sent).
 */
function driverField(spec: ServiceParameterSpec, id: string, drivers: DriverSource): HTMLElement {
  const input = h('input', {
    id,
    name: spec.name,
    type: 'text',
    size: 56,
    placeholder: 'B62… (a service contract address)',
    required: spec.required,
    'data-role': 'driver-address',
  })
  const matching = drivers.candidates.filter((c) => checkDriver(spec, c.address, c.facts).ok)
  const picker = h(
    'select',
    {
      'aria-label': `${spec.name}: services that match`,
      'data-role': 'driver-picker',
      onchange: (e: Event) => {
        const picked = (e.target as HTMLSelectElement).value
        if (picked !== '') input.value = picked
      },
    },
    h(
      'option',
      { value: '' },
      matching.length > 0
        ? `(${matching.length} matching service${matching.length === 1 ? '' : 's'} in the market)`
        : '(no service in the market matches)',
    ),
    ...matching.map((c) => h('option', { value: c.address }, `${c.name} · ${short(c.address)}`)),
  )
  const wanted = [
    ...(spec.interface?.parameters ?? []).map((p) => `parameter ${p.name} (${p.type})`),
    ...(spec.interface?.outputs ?? []).map((o) => `output ${o.name} (${o.type})`),
  ]
  return h(
    'span',
    { class: 'driver' },
    picker,
    ' or ',
    input,
    wanted.length > 0
      ? h(
          'small',
          { class: 'muted' },
          ` needs a live, registered service with ${wanted.join(', ')}`,
        )
      : null,
  )
}

function field(spec: ParameterSpec, drivers: DriverSource): HTMLElement {
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
    case 'service':
      input = driverField(spec, id, drivers)
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
 * Why the request's drivers (its `service` parameters) do not pass protocol's driver rule, the
 * one the Worker refuses by, or null when they all do.
 */
async function driverProblem(
  specs: readonly ParameterSpec[],
  values: Record<string, string>,
  drivers: DriverSource,
): Promise<string | null> {
  for (const { spec, address } of driverParameters(specs, values)) {
    const verdict = checkDriver(spec, address, await drivers.factsOf(address))
    if (!verdict.ok)
      return verdict.reason ? `${verdict.message}: ${reasonText(verdict.reason)}` : verdict.message
  }
  return null
}

/**
 * A form generated from the service's typed parameter schema; values are checked with the same
 * `validateParameters` the Worker runs, and drivers with the same driver rule, before anything is
 * signed or sent.
 */
export function renderRequestForm(
  descriptor: ServiceDescriptor,
  /** The price per job the contract's terms hold (what is signed and charged). */
  price: bigint,
  onSubmit: (values: ParameterValues) => Promise<void>,
  drivers: DriverSource,
): HTMLFormElement {
  const error = h('p', { class: 'error', role: 'alert', 'data-role': 'form-error' })
  const button = h('button', { type: 'submit' }, `Request a job (${price} credits)`)
  const form = h(
    'form',
    { class: 'request', 'aria-label': 'Request a job', novalidate: true },
    ...descriptor.parameters.map((spec) => field(spec, drivers)),
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
      const problem = await driverProblem(descriptor.parameters, checked.value, drivers)
      if (problem !== null) {
        error.textContent = problem
        return
      }
      await onSubmit(values)
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err)
    } finally {
      button.disabled = false
    }
  })
  return form
}

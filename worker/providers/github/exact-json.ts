/** Keys whose numbers are GitHub ids: 64-bit, so read from the source text, never as a JS number. */
const ID_KEYS = new Set(['id', 'workflow_run_id', 'run_id'])

type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown

/**
 * JSON.parse that keeps every `id`, `workflow_run_id` and `run_id` as its exact decimal string
 * (JSON.parse source text access): a run id above 2^53 would otherwise be silently rounded.
 */
export function parseExactJson(text: string): unknown {
  const reviver: Reviver = (key, value, context) =>
    ID_KEYS.has(key) && typeof value === 'number'
      ? (context?.source ?? (Number.isSafeInteger(value) ? String(value) : value))
      : value
  return JSON.parse(text, reviver as Parameters<typeof JSON.parse>[1])
}

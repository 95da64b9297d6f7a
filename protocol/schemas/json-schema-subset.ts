// A JSON Schema (2020-12) checker for the few keywords zod's generator emits for zkrunner's
// schemas. No JSON Schema validator is installed, and the tests need a second, independent reading
// of the committed schema: a keyword it does not know fails loudly, so it never passes by omission.

type Schema = Record<string, unknown>

const KNOWN = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'default',
  'type',
  'const',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'oneOf',
])

const typeOf = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number' && Number.isInteger(v)
        ? 'integer'
        : typeof v

const isUri = (s: string): boolean => {
  try {
    return new URL(s).protocol.length > 1
  } catch {
    return false
  }
}

/** The paths at which `value` breaks `schema`; empty when it conforms. Throws on an unknown keyword. */
export function jsonSchemaErrors(schema: Schema, value: unknown, path = '$'): string[] {
  for (const k of Object.keys(schema)) {
    if (!KNOWN.has(k)) throw new Error(`json-schema-subset: unsupported keyword ${k} at ${path}`)
  }
  const errors: string[] = []
  const bad = (why: string) => errors.push(`${path}: ${why}`)
  const t = typeOf(value)
  if (schema.type !== undefined) {
    const ok = schema.type === t || (schema.type === 'number' && t === 'integer')
    if (!ok) return [`${path}: not ${schema.type}`]
  }
  if ('const' in schema && value !== schema.const) bad('not the constant')
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) bad('not in enum')
  if (typeof value === 'string') {
    // JSON Schema counts code points.
    const len = [...value].length
    if (typeof schema.minLength === 'number' && len < schema.minLength) bad('too short')
    if (typeof schema.maxLength === 'number' && len > schema.maxLength) bad('too long')
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      bad('pattern')
    if (schema.format === 'uri' && !isUri(value)) bad('not a uri')
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) bad('below minimum')
    if (typeof schema.maximum === 'number' && value > schema.maximum) bad('above maximum')
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) bad('too few')
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) bad('too many')
    if (schema.items && typeof schema.items === 'object') {
      value.forEach((v, i) => {
        errors.push(...jsonSchemaErrors(schema.items as Schema, v, `${path}[${i}]`))
      })
    }
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>
    const props = (schema.properties ?? {}) as Record<string, Schema>
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) bad(`missing ${r}`)
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...jsonSchemaErrors(props[k], v, `${path}.${k}`))
      else if (schema.additionalProperties === false) bad(`unknown ${k}`)
    }
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter(
      (s) => jsonSchemaErrors(s, value, path).length === 0,
    )
    if (passing.length !== 1) bad(`matches ${passing.length} of oneOf`)
  }
  return errors
}

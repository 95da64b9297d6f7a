import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  checkOutputs,
  type OutputSpec,
  outputFields,
  outputsDigest,
  ProtocolErrorCode,
  parseManifestOutputs,
  parseResultManifest,
  parseServiceDescriptor,
  stringToFields,
} from './index.ts'
import { descriptor, manifest } from './vectors/inputs.ts'

const specs: OutputSpec[] = [
  { name: 'count', type: 'integer', required: true, min: '1' },
  { name: 'passed', type: 'boolean', required: true },
  { name: 'digest', type: 'sha256', required: false },
  { name: 'report', type: 'cid', required: false },
  { name: 'label', type: 'string', required: false, maxBytes: 8 },
]
const SHA = 'ab'.repeat(32)
const CID = 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'

describe('declaring outputs in a service descriptor', () => {
  it('accepts each type, and leaves a descriptor without outputs (and its CID) unchanged', () => {
    const parsed = parseServiceDescriptor({ ...descriptor, outputs: specs })
    expect(parsed.ok).toBe(true)
    const without = parseServiceDescriptor(descriptor)
    expect(without.ok && 'outputs' in without.value).toBe(false)
  })

  it.each([
    [[{ name: 'x', type: 'float' }], 'outputs.0.type'],
    [[{ name: '1x', type: 'integer' }], 'outputs.0.name'],
    [[{ name: '../x', type: 'integer' }], 'outputs.0.name'],
    [
      [
        { name: 'a', type: 'boolean' },
        { name: 'a', type: 'integer' },
      ],
      'outputs.1.name',
    ],
    [[{ name: 'a', type: 'integer', min: '5', max: '4' }], 'outputs.0.min'],
    [[{ name: 'a', type: 'integer', min: 5 }], 'outputs.0.min'],
    [[{ name: 'a', type: 'integer', max: '18446744073709551616' }], 'outputs.0.max'],
    [[{ name: 'a', type: 'string', maxBytes: 65 }], 'outputs.0.maxBytes'],
    [[{ name: 'a', type: 'boolean', extra: 1 }], 'outputs.0.extra'],
    [Array.from({ length: 33 }, (_, i) => ({ name: `o${i}`, type: 'boolean' })), 'outputs'],
    ['count', 'outputs'],
  ])('refuses a malformed declaration (%#) at %s', (outputs, path) => {
    const parsed = parseServiceDescriptor({ ...descriptor, outputs })
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) {
      expect(parsed.error.path.join('.')).toBe(path)
      expect(parsed.error.message.length).toBeGreaterThan(path.length)
    }
  })

  it('fuzz: any outputs value is accepted or refused with a coded error, never a throw', () => {
    const almost = fc.record(
      {
        name: fc.oneof(fc.string({ maxLength: 70 }), fc.constant('count'), fc.integer()),
        type: fc.oneof(
          fc.constantFrom('integer', 'boolean', 'sha256', 'cid', 'string', 'Integer', ''),
          fc.jsonValue(),
        ),
        required: fc.oneof(fc.boolean(), fc.jsonValue()),
        min: fc.oneof(fc.bigInt({ min: -1n, max: 1n << 65n }).map(String), fc.jsonValue()),
        max: fc.oneof(fc.bigInt({ min: -1n, max: 1n << 65n }).map(String), fc.jsonValue()),
        maxBytes: fc.oneof(fc.integer({ min: -2, max: 100 }), fc.jsonValue()),
        description: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.array(almost, { maxLength: 5 }), fc.array(fc.jsonValue())),
        (outputs) => {
          const parsed = parseServiceDescriptor({ ...descriptor, outputs })
          if (!parsed.ok) {
            expect(Object.values(ProtocolErrorCode)).toContain(parsed.error.code)
            expect(parsed.error.path[0]).toBe('outputs')
          } else {
            // Whatever is accepted encodes: a declaration never yields an output that cannot.
            const none = checkOutputs(parsed.value.outputs ?? [], [])
            expect(typeof outputsDigest(none)).toBe('bigint')
          }
        },
      ),
      { numRuns: 1000 },
    )
  }, 120_000)
})

describe('checking what a job wrote', () => {
  it('records valid values in declaration order, absent optional ones as null', () => {
    const out = checkOutputs(specs, [
      { name: 'passed', value: 'true' },
      { name: 'count', value: '78498' },
      { name: 'label', value: 'héllo' },
    ])
    expect(out).toEqual({
      valid: true,
      problems: [],
      values: [
        { name: 'count', type: 'integer', value: '78498' },
        { name: 'passed', type: 'boolean', value: true },
        { name: 'digest', type: 'sha256', value: null },
        { name: 'report', type: 'cid', value: null },
        { name: 'label', type: 'string', value: 'héllo' },
      ],
    })
  })

  it.each([
    [{ name: 'count', value: '-1' }, 'count: must be an unsigned 64-bit integer in decimal'],
    [{ name: 'count', value: '0' }, 'count: must be at least 1'],
    [{ name: 'count', value: '18446744073709551616' }, 'count: must be an unsigned 64-bit'],
    [{ name: 'count', value: '1e3' }, 'count: must be an unsigned'],
    [{ name: 'passed', value: 'yes' }, 'passed: must be true or false'],
    [{ name: 'digest', value: SHA.toUpperCase() }, 'digest: must be a SHA-256'],
    [{ name: 'report', value: 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG' }, 'report: must'],
    [{ name: 'label', value: 'nine byte' }, 'label: must be at most 8 bytes'],
    [{ name: 'label', value: 'a\nb' }, 'label: must be well-formed text'],
    [{ name: 'manifest', value: '1' }, 'manifest: not an output the service declares'],
    [{ name: '../../x', value: '1' }, '(a malformed name): not an output'],
  ])('marks the outputs invalid with a clear problem (%#)', (bad, problem) => {
    const written = [
      { name: 'count', value: '5' },
      { name: 'passed', value: true },
    ].filter((w) => w.name !== bad.name)
    const out = checkOutputs(specs, [...written, bad])
    expect(out.valid).toBe(false)
    expect(out.problems.join('\n')).toContain(problem)
    expect(parseManifestOutputs(out).ok).toBe(true)
  })

  it('refuses a name written twice (neither value is recorded) and a missing required one', () => {
    const out = checkOutputs(specs, [
      { name: 'count', value: '1' },
      { name: 'count', value: '2' },
      { name: 'count', value: '3' },
    ])
    expect(out.valid).toBe(false)
    expect(out.problems).toEqual([
      'count: written more than once',
      'passed: required, but the job did not write it',
    ])
    expect(out.values[0]).toEqual({ name: 'count', type: 'integer', value: null })
  })

  it('bounds the problems a flood of writes can add to the manifest', () => {
    const flood = Array.from({ length: 10_000 }, (_, i) => ({ name: `x${i}`, value: 'v' }))
    const out = checkOutputs(specs, flood)
    expect(out.problems).toHaveLength(16)
    expect(out.problems.at(-1)).toBe('and 9987 more problems')
    expect(parseManifestOutputs(out).ok).toBe(true)
  })

  it('fuzz: any written values give outputs the manifest schema accepts', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.oneof(fc.constantFrom(...specs.map((s) => s.name)), fc.string()),
            value: fc.oneof(
              fc.jsonValue(),
              fc.string({ maxLength: 100 }),
              fc.bigInt({ min: -1n, max: 1n << 70n }).map(String),
              fc.constantFrom(SHA, CID, 'true', 'false'),
            ),
          }),
          { maxLength: 40 },
        ),
        (written) => {
          const out = checkOutputs(specs, written)
          expect(parseManifestOutputs(out).ok).toBe(true)
          expect(out.valid).toBe(out.problems.length === 0)
          expect(typeof outputsDigest(out)).toBe('bigint')
        },
      ),
      { numRuns: 1000 },
    )
  }, 120_000)
})

describe('outputs in the signed manifest', () => {
  const outputs = checkOutputs(specs, [
    { name: 'count', value: '7' },
    { name: 'passed', value: false },
  ])

  it('is part of the manifest schema, checked per type', () => {
    expect(parseResultManifest({ ...manifest, outputs }).ok).toBe(true)
    const forged = {
      ...outputs,
      values: outputs.values.map((v) => (v.name === 'count' ? { ...v, value: 'many' } : v)),
    }
    const r = parseResultManifest({ ...manifest, outputs: forged })
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.path.join('.')).toBe('outputs.values.0.value')
    // valid must agree with the problems listed
    expect(parseResultManifest({ ...manifest, outputs: { ...outputs, valid: false } }).ok).toBe(
      false,
    )
  })
})

describe('the Field encoding', () => {
  it('lays out valid, then per output presence and fixed-width fields', () => {
    const out = checkOutputs(specs, [
      { name: 'count', value: '18446744073709551615' },
      { name: 'passed', value: 'true' },
      { name: 'digest', value: SHA },
      { name: 'report', value: CID },
      { name: 'label', value: 'ok' },
    ])
    const fields = outputFields(out)
    expect(fields).toHaveLength(1 + 2 + 2 + 3 + 3 + 5)
    expect(fields.slice(0, 5)).toEqual([1n, 1n, (1n << 64n) - 1n, 1n, 1n])
    expect(fields[5]).toBe(1n)
    expect(fields[6]).toBe(BigInt(`0x${'ab'.repeat(16)}`))
    expect(fields.slice(-4)).toEqual(stringToFields('ok'))
    expect(stringToFields('ok')).toEqual([2n, BigInt('0x6f6b') << (29n * 8n), 0n, 0n])
  })

  it('an invalid or absent value changes the digest', () => {
    const good = checkOutputs(specs, [
      { name: 'count', value: '1' },
      { name: 'passed', value: true },
    ])
    const absent = checkOutputs(specs, [{ name: 'count', value: '1' }])
    expect(outputsDigest(good)).not.toBe(outputsDigest(absent))
    expect(outputFields(absent)[0]).toBe(0n)
  })
})

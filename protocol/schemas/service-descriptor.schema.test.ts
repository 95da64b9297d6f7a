import { readFileSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, it } from 'vitest'
import { canonicalBytes } from '../encoding.ts'
import {
  parseServiceDescriptor,
  ServiceDescriptorSchema,
  serviceDescriptorCid,
} from '../service-descriptor.ts'
import { jsonSchemaErrors } from './json-schema-subset.ts'
import { JSON_SCHEMAS } from './json-schemas.ts'

// The committed JSON Schema is what editors and other implementations validate descriptors with;
// it must stay the zod schema's, and the two must agree on what they accept.

const read = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'))
const committed = read('./service-descriptor.schema.json')
const examples = {
  sample: read('../../examples/sample-primes/service.json'),
  new: read('../../examples/lint-docs/service.json'),
}
const zodAccepts = (v: unknown) => ServiceDescriptorSchema.safeParse(v).success
const jsonAccepts = (v: unknown) => jsonSchemaErrors(committed, v).length === 0

// Each one breaks exactly one rule of the descriptor.
const base = examples.sample
const withParam = (p: Record<string, unknown>) => ({ ...base, parameters: [p] })
const BAD: Record<string, unknown> = {
  'not an object': [],
  'version 2': { ...base, v: 2 },
  'unknown field': { ...base, extra: 1 },
  'missing name': (({ name: _, ...r }) => r)(base),
  'empty name': { ...base, name: '' },
  'name too long': { ...base, name: 'x'.repeat(121) },
  'description too long': { ...base, description: 'x'.repeat(2001) },
  'unknown provider': { ...base, provider: 'jenkins' },
  'ftp provider URL': { ...base, providerUrl: 'ftp://gitlab.example.com' },
  'provider URL not a URL': { ...base, providerUrl: 'gitlab' },
  'missing sourceCommitment': (({ sourceCommitment: _, ...r }) => r)(base),
  'upper-case commit': { ...base, sourceCommitment: '3F786850E387550FDAB836ED7E6DC881DE23001B' },
  'short commit': { ...base, sourceCommitment: '3f786850' },
  'price as number': { ...base, pricePerJob: 10 },
  'negative price': { ...base, pricePerJob: '-1' },
  'price with leading zero': { ...base, pricePerJob: '010' },
  'runner key not B62': { ...base, runnerPublicKey: 'EKE…' },
  'runner key too short': {
    ...base,
    runnerPublicKey: 'B62qkmSLJVkBYf82Ja5Nrx6N2AvWUEbf7dRfy1Wmh3Sjv',
  },
  'worker key padded': { ...base, workerPublicKey: `${base.workerPublicKey}=` },
  'too many parameters': {
    ...base,
    parameters: Array.from({ length: 65 }, (_, i) => ({ name: `P${i}`, type: 'boolean' })),
  },
  'parameter name with dash': withParam({ name: 'MY-VAR', type: 'boolean' }),
  'unknown parameter type': withParam({ name: 'X', type: 'float' }),
  'enum without values': withParam({ name: 'X', type: 'enum', values: [] }),
  'integer default not an integer': withParam({ name: 'X', type: 'integer', default: 1.5 }),
  'unknown parameter field': withParam({ name: 'X', type: 'boolean', hint: 'y' }),
  'service interface with an unknown type': withParam({
    name: 'D',
    type: 'service',
    interface: { parameters: [{ name: 'X', type: 'float' }] },
  }),
  'service interface with an unknown field': withParam({
    name: 'D',
    type: 'service',
    interface: { inputs: [] },
  }),
}

// What JSON Schema cannot express: zod alone refuses these (the README says so).
const ZOD_ONLY: Record<string, unknown> = {
  'runner key with a bad checksum': {
    ...base,
    runnerPublicKey: `${base.runnerPublicKey.slice(0, -1)}${base.runnerPublicKey.endsWith('J') ? 'K' : 'J'}`,
  },
  'price above 2^64 - 1': { ...base, pricePerJob: '18446744073709551616' },
  'duplicate parameter names': {
    ...base,
    parameters: [
      { name: 'X', type: 'boolean' },
      { name: 'X', type: 'boolean' },
    ],
  },
  'parameter pattern that does not compile': withParam({ name: 'X', type: 'string', pattern: '(' }),
}

describe('service descriptor JSON Schema', () => {
  it('is committed as generated from the zod schema (npm run schemas)', () => {
    expect(committed).toEqual(JSON_SCHEMAS['service-descriptor.schema.json']())
  })

  it('documents every field of the descriptor', () => {
    const fields = Object.keys(ServiceDescriptorSchema.def.shape ?? {})
    expect(Object.keys(committed.properties)).toEqual(fields)
    for (const f of fields) expect(committed.properties[f].description).toMatch(/\w/)
  })

  it.each(Object.entries(examples))('accepts the %s example in both', (_, example) => {
    expect(jsonSchemaErrors(committed, example)).toEqual([])
    expect(parseServiceDescriptor(example).ok).toBe(true)
  })

  it.each(Object.entries(BAD))('refuses %s in both', (_, input) => {
    expect(zodAccepts(input)).toBe(false)
    expect(jsonAccepts(input)).toBe(false)
  })

  it.each(Object.entries(ZOD_ONLY))('refuses %s in zod only', (_, input) => {
    expect(zodAccepts(input)).toBe(false)
    expect(jsonAccepts(input)).toBe(true)
  })

  it('fails loudly on a keyword the checker does not know', () => {
    expect(() => jsonSchemaErrors({ anyOf: [] }, 1)).toThrow(/unsupported keyword anyOf/)
  })
})

describe('serviceDescriptorCid', () => {
  it('is the raw CID of the canonical JSON of the parsed, defaults-filled descriptor', async () => {
    const { description: _, parameters: __, ...sparse } = examples.new
    const parsed = parseServiceDescriptor({ ...sparse })
    if (!parsed.ok) throw parsed.error
    expect(parsed.value.parameters).toEqual([])
    expect(parsed.value.description).toBe('')
    const bytes = canonicalBytes({ ...sparse, description: '', parameters: [] })
    const expected = CID.createV1(raw.code, await sha256.digest(bytes))
    expect(serviceDescriptorCid(parsed.value).toString()).toBe(expected.toString())
    // The file's own bytes are not what is pinned: a CID of them would be a different one.
    const fileCid = CID.createV1(raw.code, await sha256.digest(canonicalBytes(sparse)))
    expect(fileCid.toString()).not.toBe(expected.toString())
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseServiceDescriptor } from './service-descriptor.ts'
import { resolveRunsOn } from './service-registration.ts'
import {
  fieldToSourceCommitment,
  openingStringToFields,
  opensCommitment,
  privateCommitment,
  SourceCommitmentSchema,
  sameSourceCommitment,
  sourceCommitmentToField,
} from './source-commitment.ts'
import { sourceOpening } from './vectors/inputs.ts'

const read = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'))
const publicExample = read('../examples/sample-primes/service.json')
const privateExample = read('../examples/private-primes/service.json')

describe('private source commitment', () => {
  it('is opened by its opening and by no other salt, URL, project or commit', () => {
    const c = privateCommitment(sourceOpening)
    expect(opensCommitment(sourceOpening, c)).toBe(true)
    const other = (k: keyof typeof sourceOpening, v: string) => ({ ...sourceOpening, [k]: v })
    expect(opensCommitment(other('salt', `${sourceOpening.salt.slice(0, -1)}0`), c)).toBe(false)
    expect(opensCommitment(other('providerUrl', 'https://gitlab.example.org'), c)).toBe(false)
    expect(opensCommitment(other('project', 'acme/private-benchmarks/nightly'), c)).toBe(false)
    expect(opensCommitment(other('commit', 'a'.repeat(40)), c)).toBe(false)
  })

  it('encodes strings with their length, so moving bytes between URL and project changes it', () => {
    expect(openingStringToFields('ab')).toEqual([2n, 0x6162n])
    const a = { ...sourceOpening, providerUrl: 'https://a.example/x', project: 'y' }
    const b = { ...sourceOpening, providerUrl: 'https://a.example/', project: 'xy' }
    expect(privateCommitment(a)).not.toBe(privateCommitment(b))
  })

  it('round-trips through the state field and is told apart from a commit SHA', () => {
    const c = privateCommitment(sourceOpening)
    const field = sourceCommitmentToField(c)
    expect(fieldToSourceCommitment(field)).toBe(c)
    expect(sameSourceCommitment(c, field)).toBe(true)
    expect(sameSourceCommitment(sourceOpening.commit, field)).toBe(false)
    const sha = sourceOpening.commit
    expect(fieldToSourceCommitment(sourceCommitmentToField(sha))).toBe(sha)
  })

  it('refuses commitments that are not a Field or not hex', () => {
    for (const bad of [
      `poseidon:${'f'.repeat(64)}`,
      `poseidon:${'0'.repeat(63)}`,
      'poseidon:0x12',
      `POSEIDON:${'0'.repeat(64)}`,
    ])
      expect(SourceCommitmentSchema.safeParse(bad).success).toBe(false)
  })
})

describe('private service descriptor', () => {
  it('accepts the private example and names none of its coordinates', () => {
    const parsed = parseServiceDescriptor(privateExample)
    expect(parsed.ok).toBe(true)
    const text = JSON.stringify(privateExample)
    for (const secret of Object.values(sourceOpening)) expect(text).not.toContain(secret)
  })

  it.each(['providerUrl', 'project', 'ref', 'job'] as const)(
    'refuses a private one naming its %s',
    (f) => {
      const parsed = parseServiceDescriptor({ ...privateExample, [f]: publicExample[f] })
      expect(parsed.ok).toBe(false)
      if (!parsed.ok) expect(parsed.error.path).toEqual([f])
    },
  )

  it('refuses a private one committing with a commit SHA, and a public one with poseidon:', () => {
    expect(
      parseServiceDescriptor({ ...privateExample, sourceCommitment: sourceOpening.commit }).ok,
    ).toBe(false)
    expect(
      parseServiceDescriptor({
        ...publicExample,
        sourceCommitment: privateExample.sourceCommitment,
      }).ok,
    ).toBe(false)
  })

  it('refuses a public one without its coordinates', () => {
    const { project: _, ...noProject } = publicExample
    expect(parseServiceDescriptor(noProject).ok).toBe(false)
  })

  it('takes a reveal goal in credits on a private one only', () => {
    expect(privateExample.revealGoal).toBe('5000')
    const ok = parseServiceDescriptor(privateExample)
    expect(ok.ok && ok.value.revealGoal).toBe('5000')
    const pub = parseServiceDescriptor({ ...publicExample, revealGoal: '5000' })
    expect(pub.ok).toBe(false)
    if (!pub.ok) expect(pub.error.message).toContain('only a private service has a reveal goal')
    for (const bad of ['-1', '1.5', '01', 5000, '', '1e3'])
      expect(parseServiceDescriptor({ ...privateExample, revealGoal: bad }).ok).toBe(false)
  })
})

describe('resolveRunsOn', () => {
  const priv = (() => {
    const p = parseServiceDescriptor(privateExample)
    if (!p.ok) throw p.error
    return p.value
  })()
  const coordinates = { ...sourceOpening, ref: 'main', job: 'test' }

  it('completes a private descriptor with sealed coordinates that open its commitment', () => {
    const r = resolveRunsOn(priv, coordinates)
    expect(r.ok && r.value.project).toBe(sourceOpening.project)
  })

  it('refuses coordinates that do not open the commitment, naming no value', () => {
    const r = resolveRunsOn(priv, { ...coordinates, project: 'acme/other' })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.code).toBe('WRONG_OPENING')
      expect(r.error.message).not.toContain('acme')
    }
  })

  it('refuses a private service without coordinates and a public one with them', () => {
    expect(resolveRunsOn(priv, null).ok).toBe(false)
    const pub = parseServiceDescriptor(publicExample)
    if (!pub.ok) throw pub.error
    expect(resolveRunsOn(pub.value, coordinates).ok).toBe(false)
    expect(resolveRunsOn(pub.value, null).ok).toBe(true)
  })
})

import { describe, expect, test } from 'vitest'
import { ParameterSpecSchema } from './parameters.ts'
import { unsafeRegexReason } from './safe-regex.ts'

describe('unsafeRegexReason', () => {
  test.each([
    '(a+)+$',
    '(a*)*b',
    '(a|a)*',
    '(a|aa)+c',
    '(\\w+\\s?)*$',
    '((ab)*)+',
    '(?:x+y?)+',
    '(?<n>a+){2,}',
    '(a)\\1',
    '(?=a)a',
    'a*a*a*b',
    '\\d{0,4096}\\d{0,4096}\\d{0,4096}',
    // Narrow repeats, each under the wide bound, still multiply (489 ms on 81 characters).
    '\\d{0,32}'.repeat(5),
    `[a-z]{1,30}${'\\d{0,32}'.repeat(4)}`,
  ])('refuses %s', (pattern) => {
    expect(unsafeRegexReason(pattern)).not.toBeNull()
  })

  test.each([
    '[a-z-]+',
    '[a-z]+-[0-9]{1,4}',
    '(?:main|dev|release-[0-9]+)',
    '\\d+(?:\\.\\d+)?',
    'v[0-9]{1,9}\\.[0-9]{1,9}\\.[0-9]{1,9}',
    '[()+*]+',
    '\\(a+\\)+',
    '\\p{L}+',
    '\\d{0,32}'.repeat(4),
  ])('accepts %s', (pattern) => {
    expect(unsafeRegexReason(pattern)).toBeNull()
  })

  test('a descriptor with a catastrophic pattern does not parse', () => {
    const parsed = ParameterSpecSchema.safeParse({
      name: 'LABEL',
      type: 'string',
      pattern: '(a+)+$',
    })
    expect(parsed.success).toBe(false)
  })

  test('the worst accepted shape stays fast on the longest value (measured)', () => {
    // Two wide quantifiers over one class, no separator: quadratic, bounded by maxLength.
    const pattern = '\\d*\\d*'
    expect(unsafeRegexReason('\\d*\\d*\\d*')).not.toBeNull()
    expect(unsafeRegexReason(pattern)).toBeNull()
    const value = `${'1'.repeat(4095)}x`
    const started = performance.now()
    expect(new RegExp(`^(?:${pattern})$`, 'u').test(value)).toBe(false)
    expect(performance.now() - started).toBeLessThan(2000)
  })
})

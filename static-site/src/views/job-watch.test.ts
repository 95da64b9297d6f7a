import { expect, test } from 'vitest'
import { chargeText } from './job-watch.ts'

test('a job that ends not payable says it is not charged, and why', () => {
  expect(chargeText({ state: 'not-charged', amount: '0', reason: 'trigger-failed' })).toBe(
    'not charged: the pipeline could not be started',
  )
  expect(chargeText({ state: 'not-charged', amount: '0', reason: 'agent-lost' })).toContain(
    'not charged',
  )
  // No result by the deadline: the user sees why the credits came back.
  expect(chargeText({ state: 'not-charged', amount: '0', reason: 'no-result' })).toMatch(
    /^not charged: no result in time/,
  )
  expect(chargeText({ state: 'charged', amount: '10' })).toBe('charged 10 credits')
  expect(chargeText({ state: 'pending', amount: '10' })).toMatch(/^10 credits, charged once/)
})

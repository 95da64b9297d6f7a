import { expect, test } from 'vitest'
import { chargeOfJob, isPayable, payabilityOf } from './payable.ts'

test('a job that ran to an end with an exit code is payable, success or failure', () => {
  expect(isPayable({ exitCode: 0 })).toBe(true)
  expect(isPayable({ exitCode: 1, signal: null })).toBe(true)
})

test('a job lost by its agent, ended by a signal, or refused before running is not payable', () => {
  expect(payabilityOf({ exitCode: null, signal: 'agent-lost' })).toEqual({
    payable: false,
    reason: 'agent-lost',
  })
  expect(payabilityOf({ exitCode: null, signal: 'SIGKILL' })).toEqual({
    payable: false,
    reason: 'no-exit-code',
  })
  // Any not-run marker wins, even beside an exit code.
  expect(payabilityOf({ exitCode: 0, notRun: 'source-mismatch' })).toEqual({
    payable: false,
    reason: 'not-run',
  })
})

test('without a result, only a failed trigger or a canceled pipeline is decided', () => {
  expect(chargeOfJob({ status: 'trigger_failed', result: null })).toEqual({
    payable: false,
    reason: 'trigger-failed',
  })
  expect(chargeOfJob({ status: 'skipped', result: null })?.payable).toBe(false)
  expect(chargeOfJob({ status: 'running', result: null })).toBeNull()
  // A result reported before the cancel decides by the rule.
  expect(chargeOfJob({ status: 'canceled', result: { exitCode: 3 } })).toEqual({ payable: true })
})

test('a job the provider refused for quota is not charged, unless the runner reports it ran', () => {
  expect(chargeOfJob({ status: 'failed', result: null, quotaRefused: true })).toEqual({
    payable: false,
    reason: 'provider-quota',
  })
  // Before the pipeline hook says failed, the job hook's quota refusal decides already.
  expect(chargeOfJob({ status: 'running', result: null, quotaRefused: true })?.payable).toBe(false)
  // A signed result outweighs the webhook: the job ran, and is charged by the rule.
  expect(chargeOfJob({ status: 'failed', result: { exitCode: 0 }, quotaRefused: true })).toEqual({
    payable: true,
  })
  expect(chargeOfJob({ status: 'failed', result: null, quotaRefused: false })).toBeNull()
})

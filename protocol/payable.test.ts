import { expect, test } from 'vitest'
import {
  chargeOfJob,
  DEFAULT_MAX_JOB_SECONDS,
  DEFAULT_RESULT_GRACE_SECONDS,
  isPayable,
  payabilityOf,
  resultDeadline,
  resultInTime,
} from './payable.ts'

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

test('a job with no result by its deadline is not charged: no-result, decided by the clock alone', () => {
  const resultBy = resultDeadline(1_000_000, { maxJobSeconds: 600, graceSeconds: 60 })
  expect(resultBy).toBe(1_000_000 + 660_000)
  // The documented default: GitHub Actions' 6 h job limit plus an hour to report.
  expect(resultDeadline(0)).toBe((DEFAULT_MAX_JOB_SECONDS + DEFAULT_RESULT_GRACE_SECONDS) * 1000)
  const job = { status: 'running', result: null, resultBy }
  expect(chargeOfJob(job, resultBy - 1)).toBeNull()
  expect(chargeOfJob(job, resultBy)).toEqual({ payable: false, reason: 'no-result' })
  // Whatever the provider said: a pipeline that succeeded without a runner report is not charged.
  expect(chargeOfJob({ ...job, status: 'success' }, resultBy + 1)?.payable).toBe(false)
  // Without a clock or a deadline nothing is decided (callers that only read a stored charge).
  expect(chargeOfJob(job)).toBeNull()
  expect(chargeOfJob({ status: 'running', result: null }, resultBy)).toBeNull()
  // A result stored in time keeps deciding by the rule after the deadline.
  expect(chargeOfJob({ ...job, result: { exitCode: 1 } }, resultBy + 1)).toEqual({ payable: true })
  // A report at the deadline is late: it cannot charge the job.
  expect(resultInTime(resultBy, resultBy - 1)).toBe(true)
  expect(resultInTime(resultBy, resultBy)).toBe(false)
})

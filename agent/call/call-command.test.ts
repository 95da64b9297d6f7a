import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { generateMinaKeyPair } from '../../protocol/index.ts'
import { buildProgram } from '../cli.ts'
import { loadConfig } from '../config.ts'
import { AgentErrorCode } from '../errors.ts'
import { Spool } from '../spool/spool.ts'
import { outerJobFromEnv, paramsOf, runCall, runningOuterJob } from './call-command.ts'

const service = generateMinaKeyPair().publicKey
const jobId = 'cd'.repeat(16)
let dataDir: string
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'zkrunner-call-cli-'))
})
afterEach(() => rm(dataDir, { recursive: true, force: true }))

const config = (extra: Record<string, unknown> = {}) =>
  loadConfig({ dataDir, ...extra } as Parameters<typeof loadConfig>[0], { HOME: dataDir })

describe('zkrunner-agent call on the command line', () => {
  it('--help names the parameters, the budget and what it prints', () => {
    const program = buildProgram()
    const call = program.commands.find((c) => c.name() === 'call') as Command
    let text = ''
    call.exitOverride().configureOutput({ writeOut: (t) => (text += t) })
    expect(() => program.parse(['call', '--help'], { from: 'user' })).toThrow()
    expect(text).toContain('--param <NAME=VALUE>')
    expect(text).toContain('--wait')
    expect(text).toContain('callBudgetPerJob')
    expect(text).toContain('bundle CID on its own line')
  })

  it('reads its parameters as NAME=VALUE, refusing a malformed or repeated one', () => {
    expect(paramsOf(['OPT=O2', 'EXPR=a=b'])).toEqual({ OPT: 'O2', EXPR: 'a=b' })
    expect(() => paramsOf(['OPT'])).toThrow(/NAME=VALUE/)
    expect(() => paramsOf(['OPT=O0', 'OPT=O2'])).toThrow(/twice/)
  })

  it('runs only inside a zkrunner job, and reads the outer call path', () => {
    expect(() => outerJobFromEnv({})).toThrow(/inside a zkrunner job/)
    expect(outerJobFromEnv({ ZKRUNNER_JOB_ID: jobId, ZKRUNNER_SERVICE: service })).toEqual({
      jobId,
      service,
    })
    const above = generateMinaKeyPair().publicKey
    expect(
      outerJobFromEnv({
        ZKRUNNER_JOB_ID: jobId,
        ZKRUNNER_SERVICE: service,
        ZKRUNNER_CALL_PATH: JSON.stringify([above]),
      }).callPath,
    ).toEqual([above])
    expect(() =>
      outerJobFromEnv({
        ZKRUNNER_JOB_ID: jobId,
        ZKRUNNER_SERVICE: service,
        ZKRUNNER_CALL_PATH: '[1]',
      }),
    ).toThrow(/ZKRUNNER_CALL_PATH/)
  })

  it('validates the budget once, with the config', () => {
    expect(config({ callBudgetPerJob: '50', callBudgetPerService: 200 }).callBudgetPerJob).toBe(50n)
    expect(() => config({ callBudgetPerJob: '-1' })).toThrow(/callBudgetPerJob/)
    expect(() => config({ callBudgetPerJob: '99999999999999999999' })).toThrow(/2\^64/)
  })

  it('a runner with no budget makes no call: CALL_BUDGET_EXHAUSTED before reading anything', async () => {
    const env = { ZKRUNNER_JOB_ID: jobId, ZKRUNNER_SERVICE: service }
    await expect(
      runCall(config(), { driver: service, params: [], wait: true }, env, () => {}),
    ).rejects.toMatchObject({ code: AgentErrorCode.CALL_BUDGET_EXHAUSTED })
    expect(await readdir(dataDir)).toEqual([])
  })

  it('calls only from a job this runner is running now, with its own record of the job', async () => {
    const claimed = { jobId, service: generateMinaKeyPair().publicKey }
    await expect(runningOuterJob(dataDir, claimed)).rejects.toMatchObject({
      code: AgentErrorCode.CALL_REFUSED,
    })
    const spool = new Spool(dataDir)
    const above = [generateMinaKeyPair().publicKey]
    await spool.create({
      jobId,
      service,
      sourceCommitment: 'c'.repeat(40),
      user: generateMinaKeyPair().publicKey,
      command: 'true',
      args: [],
      artifacts: [],
      cwd: dataDir,
      createdAt: new Date().toISOString(),
      callPath: above,
    })
    // The service and path are the spool's, whatever the environment claimed.
    expect(await runningOuterJob(dataDir, claimed)).toEqual({ jobId, service, callPath: above })
    await spool.setState(jobId, { phase: 'ran' })
    await expect(runningOuterJob(dataDir, claimed)).rejects.toThrow(
      /not a job this runner is running/,
    )
  })
})

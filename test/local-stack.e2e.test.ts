import { spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PublicKey } from 'o1js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readCredits, readDeposit, readEscrow } from '../contracts/index.ts'
import { DEFAULTS, type StackConfig } from '../stack/config.ts'
import { type LocalStack, type StackJob, startStack } from '../stack/stack.ts'
import { freePort } from './free-port.ts'

// The product's main job, end to end on loopback, with the faults an operator meets: GitLab
// failing, the runner crashing mid-job, the gateway restarting. Every job must end verified and
// settled exactly once, and no credit may be lost or paid twice.

const lines: string[] = []
const log = (line: string) => {
  lines.push(line)
  if (process.env.ZKRUNNER_E2E_VERBOSE) console.log(line)
}

let config: StackConfig
let stack: LocalStack
const jobs: StackJob[] = []
let userCreditsBefore = 0n
let runnerCreditsBefore = 0n

const pipelinesOf = (jobId: string) =>
  stack.gitlab.pipelines.filter((p) =>
    p.variables.some((v) => v.key === 'ZKRUNNER_JOB_ID' && v.value === jobId),
  )

const allOk = (links: { status: string }[]) =>
  links.length === 8 && links.every((l) => l.status === 'ok')

describe('the local stack', () => {
  beforeAll(async () => {
    config = {
      ...DEFAULTS,
      dataDir: await mkdtemp(join(tmpdir(), 'zkrunner-e2e-')),
      chainPort: await freePort(),
      workerPort: await freePort(),
      gitlabPort: await freePort(),
      gatewayPort: await freePort(),
      pagePort: await freePort(),
    }
    stack = await startStack(config, log)
    userCreditsBefore = await readCredits(PublicKey.fromBase58(stack.keys.user.publicKey))
    runnerCreditsBefore = await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))
  })

  afterAll(async () => {
    await stack?.stop()
  })

  test('a paid job runs through the agent and reports a signed bundle', async () => {
    const job = await stack.requestJob(200_000, log)
    expect(job.status).toBe('success')
    expect(job.bundleCid).toMatch(/^baf/)
    expect(pipelinesOf(job.jobId)).toHaveLength(1)
    jobs.push(job)
  })

  test('GitLab answers 500 and creates nothing: the job is still triggered exactly once', async () => {
    const before = stack.gitlab.triggerRequests()
    stack.gitlab.setFaults({ trigger: [{ status: 500 }] })
    const job = await stack.requestJob(300_000, log)
    expect(stack.gitlab.triggerRequests() - before).toBeGreaterThanOrEqual(2)
    expect(pipelinesOf(job.jobId)).toHaveLength(1)
    expect(job.status).toBe('success')
    jobs.push(job)
  })

  test('the agent is killed mid-job and resumed: the job still ends with a signed, pinned bundle', async () => {
    stack.faults.killAgentAfterMs = 1500
    const job = await stack.requestJob(150_000_000, log)
    expect(lines.some((l) => l.includes('fault injected: killing the agent'))).toBe(true)
    expect(job.bundleCid).toMatch(/^baf/)
    expect(pipelinesOf(job.jobId)).toHaveLength(1)
    jobs.push(job)
  })

  test('one settlement pays the runner exactly the price of every job, once', async () => {
    const service = PublicKey.fromBase58(stack.deployment.service)
    const user = PublicKey.fromBase58(stack.keys.user.publicKey)
    await stack.settle(log)
    const price = BigInt(stack.descriptor.pricePerJob)
    const runnerCredits = await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))
    expect(runnerCredits - runnerCreditsBefore).toBe(price * BigInt(jobs.length))
    // Settling again pays nothing more.
    await stack.settle(log)
    expect(await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))).toBe(runnerCredits)
    // Conservation: what left the user is the deposit, now in escrow or paid to the runner.
    const deposited = userCreditsBefore - (await readCredits(user))
    expect(deposited).toBe(await readDeposit(service, user))
    expect((await readEscrow(service)) + (runnerCredits - runnerCreditsBefore)).toBe(deposited)
  })

  test('every job verifies from the gateway and the chain, also after the gateway restarts', async () => {
    await stack.restartGateway()
    for (const job of jobs) {
      const links = await stack.verify(job, log)
      expect(links.filter((l) => l.status !== 'ok')).toEqual([])
      expect(allOk(links)).toBe(true)
    }
  })
})

describe('npm start -- --once', () => {
  test('restarts over the same state and ends with every link verified, exit 0', async () => {
    const args = [
      '--import',
      '@swc-node/register/esm-register',
      'stack/cli.ts',
      '--once',
      '--limit',
      '1000000',
    ]
    const env = {
      ...process.env,
      ZKRUNNER_STACK_DATA_DIR: config.dataDir,
      ZKRUNNER_STACK_CHAIN_PORT: String(config.chainPort),
      ZKRUNNER_STACK_WORKER_PORT: String(config.workerPort),
      ZKRUNNER_STACK_GITLAB_PORT: String(config.gitlabPort),
      ZKRUNNER_STACK_GATEWAY_PORT: String(config.gatewayPort),
      ZKRUNNER_STACK_PAGE_PORT: String(config.pagePort),
    }
    const out: string[] = []
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, args, {
        cwd: new URL('..', import.meta.url).pathname,
        env,
      })
      child.stdout.on('data', (b: Buffer) => out.push(b.toString()))
      child.stderr.on('data', (b: Buffer) => out.push(b.toString()))
      child.once('exit', resolve)
    })
    const text = out.join('')
    expect(text, text).toContain('every link verified')
    expect(code).toBe(0)
    // The saved chain already had the contracts: nothing was deployed again.
    expect(text).not.toContain('deploying the credit token')
  })
})

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { startGitlabStandin } from '../gitlab-standin/index.ts'
import {
  canonicalBytes,
  cidToFields,
  commitToField,
  encodeHeartbeat,
  encodeTerms,
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  generateHpkeKeyPair,
  generateMinaKeyPair,
  JOB_REQUEST_INFO,
  newRequestId,
  openJson,
  parseEnvelope,
  parseJobSubmission,
  type ServiceDescriptor,
  sealJson,
  sha256,
  signServiceRegistration,
  signVoucher,
  TRIGGER_TOKEN_INFO,
  unwrap,
  verifyVoucher,
} from '../protocol/index.ts'
import { TEST_CREDIT_TOKEN_ID, TEST_GENUINE_CODE } from '../worker/test-support/constants.ts'
import { startFakeMina } from '../worker/test-support/fake-mina.ts'

// POST /v1/jobs under `wrangler dev` (workerd) on loopback: throughput, latency and CPU per request,
// against GET /v1/health in the same run. Every job is a distinct, valid, paid request that
// reaches GitLab (the stand-in), so the figure includes HPKE, the voucher signature, the Durable
// Object admission and the trigger call.

const ROOT = join(fileURLToPath(import.meta.url), '../..')
const REQUESTS = Number(process.env.BENCH_WORKER_REQUESTS ?? 1500)
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32)
const PROJECT = 42
const TRIGGER_TOKEN = 'glptt-bench-0123456789'
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789'
const CREDIT_TOKEN_ID = TEST_CREDIT_TOKEN_ID
const GENUINE_CODE = TEST_GENUINE_CODE

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
}

/** CPU seconds (user + system) of a process tree from /proc, split into workerd and the rest. */
function treeCpuSeconds(rootPid: number): { workerd: number; other: number } {
  const ticks = 100 // USER_HZ on Linux
  const children = new Map<number, number[]>()
  const cpu = new Map<number, { name: string; seconds: number }>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ppid = Number(fields[1])
      cpu.set(Number(entry), { name, seconds: (Number(fields[11]) + Number(fields[12])) / ticks })
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      // the process ended while we looked
    }
  }
  const total = { workerd: 0, other: 0 }
  const stack = [rootPid]
  while (stack.length > 0) {
    const pid = stack.pop()!
    const p = cpu.get(pid)
    if (p) total[p.name.startsWith('workerd') ? 'workerd' : 'other'] += p.seconds
    stack.push(...(children.get(pid) ?? []))
  }
  return total
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${log()}`)
    try {
      if ((await fetch(`${url}/v1/health`)).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`wrangler dev did not start: ${log()}`)
}

interface Phase {
  ok: number
  errors: number
  seconds: number
  latencies: number[]
  cpuSeconds: { workerd: number; other: number }
  benchCpuSeconds: number
}

async function phase(
  lanes: (() => Promise<Response>)[][],
  expected: number,
  workerdPid: number,
): Promise<Phase> {
  const latencies: number[] = []
  let ok = 0
  let errors = 0
  const cpu0 = treeCpuSeconds(workerdPid)
  const own0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(
    lanes.map(async (lane) => {
      for (const send of lane) {
        const start = performance.now()
        try {
          const res = await send()
          await res.arrayBuffer()
          if (res.status === expected) ok++
          else errors++
        } catch {
          errors++
        }
        latencies.push(performance.now() - start)
      }
    }),
  )
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = treeCpuSeconds(workerdPid)
  const own = process.cpuUsage(own0)
  return {
    ok,
    errors,
    seconds,
    latencies,
    cpuSeconds: { workerd: cpu1.workerd - cpu0.workerd, other: cpu1.other - cpu0.other },
    benchCpuSeconds: (own.user + own.system) / 1e6,
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** Runs the Worker benchmark and returns its figures. */
export async function run(): Promise<Record<string, number | string>> {
  const mina = await startFakeMina()
  const gitlab = await startGitlabStandin({
    projects: [{ id: PROJECT, triggerTokens: [TRIGGER_TOKEN] }],
    autoRun: false,
  })
  const hpke = await generateHpkeKeyPair()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // Durable Object storage on tmpfs when there is one: the figure is the Worker's, not this disk's
  // fsync latency (Cloudflare's storage confirms writes by replication, not a local fsync).
  const state = mkdtempSync(
    join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'zkrunner-worker-bench-'),
  )
  let output = ''
  const child = spawn(
    join(ROOT, 'node_modules/.bin/wrangler'),
    [
      'dev',
      '--config',
      join(ROOT, 'wrangler.toml'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--persist-to',
      state,
      '--log-level',
      'warn',
      '--show-interactive-dev-session=false',
      '--var',
      `HPKE_PRIVATE_KEY:${hpke.privateKey}`,
      '--var',
      `GITLAB_WEBHOOK_SECRET:${WEBHOOK_SECRET}`,
      '--var',
      `MINA_GRAPHQL_URL:${mina.url}`,
      '--var',
      `GITLAB_URL:${gitlab.url}`,
      '--var',
      'CHAIN_CACHE_MS:2000',
      '--var',
      `CREDIT_TOKEN_ID:${CREDIT_TOKEN_ID}`,
      '--var',
      `GENUINE_SERVICE_CODE:${JSON.stringify(GENUINE_CODE)}`,
    ],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' }, detached: true },
  )
  child.stdout?.on('data', (d) => {
    output = (output + d).slice(-4000)
  })
  child.stderr?.on('data', (d) => {
    output = (output + d).slice(-4000)
  })
  try {
    await waitReady(url, child, () => output)

    // One service on the fake chain, registered like an operator would.
    const operator = generateMinaKeyPair()
    const address = generateMinaKeyPair().publicKey
    const descriptor: ServiceDescriptor = {
      v: 1,
      name: 'bench',
      description: '',
      provider: 'gitlab',
      providerUrl: 'https://gitlab.example.com',
      project: String(PROJECT),
      ref: 'main',
      job: 'zkrunner',
      sourceCommitment: 'a91957a858320c0e17f3a0eca7cfacbff50ea29a',
      pricePerJob: '1',
      runnerPublicKey: operator.publicKey,
      workerPublicKey: hpke.publicKey,
      parameters: [{ name: 'N', type: 'integer', min: 1, max: 10, required: true }],
    }
    const cid = CID.createV1(0x55, createDigest(0x12, sha256(canonicalBytes(descriptor))))
    const [c0, c1] = unwrap(cidToFields(cid))
    const receiptTokenId = 'wBenchReceiptToken1111111111111111111111111'
    mina.setSlot(1000)
    // A genuine, frozen service as the Worker checks it: both accounts' code and permissions.
    const frozenVk = { auth: 'Impossible', txnVersion: GENUINE_CODE.txnVersion }
    mina.setAccount(
      address,
      {
        verificationKey: { hash: GENUINE_CODE.vaultVkHash },
        permissions: { ...FROZEN_VAULT_PERMISSIONS, setVerificationKey: frozenVk },
      },
      CREDIT_TOKEN_ID,
    )
    mina.setAccount(address, {
      verificationKey: { hash: GENUINE_CODE.serviceVkHash },
      permissions: { ...FROZEN_SERVICE_PERMISSIONS, setVerificationKey: frozenVk },
      zkappState: [
        commitToField(descriptor.sourceCommitment),
        c0,
        c1,
        encodeTerms({ pricePerJob: 1n, withdrawTimelockSlots: 100n }),
        0n,
        0n,
        0n,
        encodeHeartbeat({ lastHeartbeatSlot: 1000n, settledJobs: 0n }),
      ].map(String),
    })
    const registration = signServiceRegistration(
      {
        v: 1,
        service: address,
        descriptor,
        descriptorCid: cid.toString(),
        receiptTokenId,
        triggerToken: await sealJson(hpke.publicKey, TRIGGER_TOKEN_INFO, TRIGGER_TOKEN),
      },
      operator.privateKey,
    )
    const reg = await fetch(`${url}/v1/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(registration),
    })
    if (reg.status !== 201) throw new Error(`registration failed: ${await reg.text()}`)

    // One user per lane; each lane sends its user's vouchers in nonce order.
    const perLane = Math.ceil(REQUESTS / CONCURRENCY)
    const jobLanes: (() => Promise<Response>)[][] = []
    const jobBodies: string[] = []
    const expiresAt = Math.floor(Date.now() / 1000) + 3600
    for (let lane = 0; lane < CONCURRENCY; lane++) {
      const user = generateMinaKeyPair()
      mina.setAccount(user.publicKey, { balance: String(perLane + 10) }, receiptTokenId)
      const sends: (() => Promise<Response>)[] = []
      for (let i = 1; i <= perLane && lane * perLane + i <= REQUESTS; i++) {
        const voucher = signVoucher(
          {
            v: 1,
            user: user.publicKey,
            service: address,
            cumulativeAmount: String(i),
            nonce: String(i),
          },
          user.privateKey,
        )
        const request = {
          v: 1,
          service: address,
          user: user.publicKey,
          requestId: newRequestId(),
          parameters: { N: 3 },
          expiresAt,
        }
        const body = JSON.stringify(
          await sealJson(hpke.publicKey, JOB_REQUEST_INFO, { request, voucher }),
        )
        jobBodies.push(body)
        sends.push(() =>
          fetch(`${url}/v1/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          }),
        )
      }
      jobLanes.push(sends)
    }
    const healthLanes = jobLanes.map((lane) => lane.map(() => () => fetch(`${url}/v1/health`)))

    // Warm up both routes (isolate start, JIT, DO instantiation) outside the measured phases.
    for (let i = 0; i < 50; i++) await (await fetch(`${url}/v1/health`)).arrayBuffer()

    const workerdPid = child.pid!
    const health = await phase(healthLanes, 200, workerdPid)
    const jobs = await phase(jobLanes, 202, workerdPid)

    // The stateless Worker's own CPU work per job (what the free plan's 10 ms applies to; the
    // Durable Object is a separate invocation), replayed in Node's V8 on sealed requests.
    const hpkeKeys = [hpke]
    const stages = { open: 0, parse: 0, verify: 0 }
    const samples = jobBodies.slice(0, 200)
    for (const body of samples) {
      let t = performance.now()
      const envelope = unwrap(parseEnvelope(JSON.parse(body)))
      const opened = unwrap(await openJson(hpkeKeys, envelope, JOB_REQUEST_INFO))
      stages.open += performance.now() - t
      t = performance.now()
      const submission = unwrap(parseJobSubmission(opened))
      stages.parse += performance.now() - t
      t = performance.now()
      unwrap(verifyVoucher(submission.voucher))
      stages.verify += performance.now() - t
    }
    const per = (ms: number) => Number((ms / samples.length).toFixed(2))

    const sortedJobs = [...jobs.latencies].sort((a, b) => a - b)
    const sortedHealth = [...health.latencies].sort((a, b) => a - b)
    const jobRate = jobs.ok / jobs.seconds
    const healthRate = health.ok / health.seconds
    const fixed = (n: number, d = 1) => Number(n.toFixed(d))
    const perRequest = (p: Phase, seconds: number) =>
      fixed((seconds * 1000) / Math.max(1, p.ok + p.errors), 2)
    return {
      'requests per route': REQUESTS,
      concurrency: CONCURRENCY,
      'POST /v1/jobs req/s': fixed(jobRate),
      'POST /v1/jobs errors': jobs.errors,
      'POST /v1/jobs p50 ms': fixed(percentile(sortedJobs, 50)),
      'POST /v1/jobs p99 ms': fixed(percentile(sortedJobs, 99)),
      'GET /v1/health req/s': fixed(healthRate),
      'GET /v1/health errors': health.errors,
      'GET /v1/health p50 ms': fixed(percentile(sortedHealth, 50)),
      'GET /v1/health p99 ms': fixed(percentile(sortedHealth, 99)),
      'ratio jobs / health (throughput)': fixed(jobRate / healthRate, 3),
      'workerd CPU ms per job request (process, incl. DO, upper bound)': perRequest(
        jobs,
        jobs.cpuSeconds.workerd,
      ),
      'workerd CPU ms per health request (process)': perRequest(health, health.cpuSeconds.workerd),
      'wrangler proxy (node) CPU ms per job request': perRequest(jobs, jobs.cpuSeconds.other),
      'load generator + stand-ins CPU ms per job request': perRequest(jobs, jobs.benchCpuSeconds),
      'Worker CPU ms per job, Node replay: HPKE open': per(stages.open),
      'Worker CPU ms per job, Node replay: parse (zod)': per(stages.parse),
      'Worker CPU ms per job, Node replay: voucher signature': per(stages.verify),
      'Worker CPU ms per job, Node replay: total': per(stages.open + stages.parse + stages.verify),
      'pipelines triggered': gitlab.pipelines.length,
    }
  } finally {
    if (child.pid !== undefined && child.exitCode === null) {
      process.kill(-child.pid, 'SIGTERM')
      await new Promise((r) => setTimeout(r, 500))
      if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
    }
    await gitlab.close()
    await mina.close()
    rmSync(state, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then(
    (figures) => {
      for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`)
    },
    (error: unknown) => {
      console.error(`bench/worker: ${error instanceof Error ? error.message : String(error)}`)
      process.exitCode = 1
    },
  )
}

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startGitlabStandin } from '../gitlab-standin/index.ts'
import {
  generateHpkeKeyPair,
  JOB_REQUEST_INFO,
  openJson,
  parseEnvelope,
  parseJobSubmission,
  unwrap,
  verifyVoucher,
} from '../protocol/index.ts'
import { TEST_CREDIT_TOKEN_ID, TEST_GENUINE_CODE } from '../worker/test-support/constants.ts'
import { startFakeMina } from '../worker/test-support/fake-mina.ts'
import { runDirect } from './worker-direct.ts'
import { jobBodies, type Post, PROJECT, registerService, TRIGGER_TOKEN } from './worker-setup.ts'

// POST /v1/jobs under `wrangler dev` (workerd) on loopback: throughput, latency and CPU per request,
// against GET /v1/health in the same run. Every job is a distinct, valid, paid request that
// reaches GitLab (the stand-in), so the figure includes HPKE, the voucher signature, the Durable
// Object admission and the trigger call.

const ROOT = join(fileURLToPath(import.meta.url), '../..')
const REQUESTS = Number(process.env.BENCH_WORKER_REQUESTS ?? 1500)
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32)
const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789'

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
      `CREDIT_TOKEN_ID:${TEST_CREDIT_TOKEN_ID}`,
      '--var',
      `GENUINE_SERVICE_CODE:${JSON.stringify(TEST_GENUINE_CODE)}`,
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

    const post: Post = (path, body) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    const service = await registerService(post, mina, hpke)
    const bodyLanes = await jobBodies(mina, hpke, service, CONCURRENCY, REQUESTS)
    const jobLanes = bodyLanes.map((lane) => lane.map((body) => () => post('/v1/jobs', body)))
    const jobBodyList = bodyLanes.flat()
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
    const samples = jobBodyList.slice(0, 200)
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
  const print = (figures: Record<string, number | string>) => {
    for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`)
  }
  // Through `wrangler dev` first (the figure this bench always printed), then straight into workerd.
  run()
    .then(print)
    .then(runDirect)
    .then(print)
    .catch((error: unknown) => {
      console.error(`bench/worker: ${error instanceof Error ? error.message : String(error)}`)
      process.exitCode = 1
    })
}

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runDirect } from './worker-direct.ts'
import { fixed, type Load, load, percentile, treeCpuSeconds } from './worker-measure.ts'
import {
  jobBodies,
  type Post,
  registerService,
  startStandins,
  workerBindings,
} from './worker-setup.ts'

// `npm run bench -- worker`: POST /v1/jobs straight into workerd (worker-direct.ts: the Worker's
// own CPU per job, split by stage, against mina-signer and the targets), then through
// `wrangler dev` on loopback (what a developer's local Worker does, against GET /v1/health in
// the same run). Every job is a distinct, valid, paid request that reaches GitLab (the stand-in).

const ROOT = join(fileURLToPath(import.meta.url), '../..')
const REQUESTS = Number(process.env.BENCH_WORKER_REQUESTS ?? 1000)
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32)

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as { port: number }
  await new Promise((r) => server.close(r))
  return port
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

/** A load phase with the CPU workerd and the rest of wrangler's tree spent on it. */
async function measured(
  lanes: (() => Promise<Response>)[][],
  expected: number,
  root: number,
): Promise<Load & { workerd: number; other: number }> {
  const before = treeCpuSeconds(root)
  const result = await load(lanes, expected)
  const after = treeCpuSeconds(root)
  return { ...result, workerd: after.workerd - before.workerd, other: after.other - before.other }
}

/** POST /v1/jobs through `wrangler dev`, against GET /v1/health in the same run. */
export async function runWranglerDev(): Promise<Record<string, number | string>> {
  const standins = await startStandins()
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // Durable Object storage on tmpfs when there is one: the figure is the Worker's, not this disk's
  // fsync latency (Cloudflare's storage confirms writes by replication, not a local fsync).
  const state = mkdtempSync(
    join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'zkrunner-worker-bench-'),
  )
  let output = ''
  const vars = Object.entries(workerBindings(standins)).flatMap(([k, v]) => ['--var', `${k}:${v}`])
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
      ...vars,
    ],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' }, detached: true },
  )
  const keep = (d: unknown) => {
    output = (output + String(d)).slice(-4000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  try {
    await waitReady(url, child, () => output)
    const post: Post = (path, body) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
    const service = await registerService(post, standins.mina, standins.hpke)
    const bodyLanes = await jobBodies(standins.mina, standins.hpke, service, CONCURRENCY, REQUESTS)
    const jobLanes = bodyLanes.map((lane) => lane.map((body) => () => post('/v1/jobs', body)))
    const healthLanes = jobLanes.map((lane) => lane.map(() => () => fetch(`${url}/v1/health`)))
    // Warm-up (isolate start, JIT) outside the measured phases.
    for (let i = 0; i < 50; i++) await (await fetch(`${url}/v1/health`)).arrayBuffer()

    const health = await measured(healthLanes, 200, child.pid!)
    const jobs = await measured(jobLanes, 202, child.pid!)
    const rate = (p: Load) => p.ok / p.seconds
    const perRequest = (p: Load, seconds: number) =>
      fixed((seconds * 1000) / Math.max(1, p.ok + p.errors))
    return {
      'wrangler dev: requests per route': REQUESTS,
      'wrangler dev: concurrency (lanes)': CONCURRENCY,
      'wrangler dev: POST /v1/jobs req/s': fixed(rate(jobs), 1),
      'wrangler dev: POST /v1/jobs errors': jobs.errors,
      'wrangler dev: POST /v1/jobs first errors': jobs.failures.join(' | ') || 'none',
      'wrangler dev: POST /v1/jobs latency p50 ms': fixed(percentile(jobs.latencies, 50), 1),
      'wrangler dev: POST /v1/jobs latency p99 ms': fixed(percentile(jobs.latencies, 99), 1),
      'wrangler dev: GET /v1/health req/s (baseline)': fixed(rate(health), 1),
      'wrangler dev: GET /v1/health errors': health.errors,
      'wrangler dev: ratio POST /v1/jobs / GET /v1/health throughput (x)': fixed(
        rate(jobs) / rate(health),
        3,
      ),
      'wrangler dev: workerd CPU ms per POST /v1/jobs (process, incl. DO)': perRequest(
        jobs,
        jobs.workerd,
      ),
      'wrangler dev: workerd CPU ms per GET /v1/health (process)': perRequest(
        health,
        health.workerd,
      ),
      'wrangler dev: proxy (node) CPU ms per POST /v1/jobs': perRequest(jobs, jobs.other),
      'wrangler dev: pipelines triggered': standins.gitlab.pipelines.length,
    }
  } finally {
    if (child.pid !== undefined && child.exitCode === null) {
      process.kill(-child.pid, 'SIGTERM')
      await new Promise((r) => setTimeout(r, 500))
      if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
    }
    await standins.close()
    rmSync(state, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const print = (figures: Record<string, number | string>) => {
    for (const [k, v] of Object.entries(figures)) console.log(`${k}: ${v}`)
  }
  // Straight into workerd first (the figures the targets apply to), then through `wrangler dev`.
  runDirect()
    .then(print)
    .then(process.env.BENCH_WORKER_SKIP_WRANGLER ? undefined : runWranglerDev)
    .then((figures) => figures && print(figures))
    .catch((error: unknown) => {
      console.error(`bench/worker: ${error instanceof Error ? error.message : String(error)}`)
      process.exitCode = 1
    })
}

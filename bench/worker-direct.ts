import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { convertV4MiniflareOptions, Miniflare } from 'miniflare'
import { startGitlabStandin } from '../gitlab-standin/index.ts'
import {
  generateHpkeKeyPair,
  JOB_REQUEST_INFO,
  openJson,
  parseEnvelope,
  unwrap,
} from '../protocol/index.ts'
import { TEST_CREDIT_TOKEN_ID, TEST_GENUINE_CODE } from '../worker/test-support/constants.ts'
import { startFakeMina } from '../worker/test-support/fake-mina.ts'
import { jobBodies, PROJECT, registerService, TRIGGER_TOKEN } from './worker-setup.ts'

// POST /v1/jobs straight into workerd through Miniflare's dispatchFetch, with no `wrangler dev`
// proxy in between (that proxy tops out near 250 req/s here and hides what the Worker does).
// workerd's clocks stand still while a request computes, so the Worker cannot time itself: the
// CPU of each request is read from workerd's threads (/proc/<pid>/task/*/schedstat, nanoseconds)
// around it, one request at a time. The stages (decrypt, verify) run in a bench-only Worker in
// the same workerd (bench/worker-stages.ts); a `/noop` route that reads and parses the same body
// is the per-request baseline subtracted from every figure.

const ROOT = join(fileURLToPath(import.meta.url), '../..')
const SEQUENTIAL = Number(process.env.BENCH_WORKER_SEQUENTIAL ?? 300)
const REQUESTS = Number(process.env.BENCH_WORKER_DIRECT_REQUESTS ?? 2000)
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32)
const run = promisify(execFile)

async function bundle(entry: string, outfile: string): Promise<void> {
  // The conditions wrangler resolves for workerd; node: built-ins come from nodejs_compat.
  await run(join(ROOT, 'node_modules/.bin/esbuild'), [
    entry,
    '--bundle',
    '--format=esm',
    '--platform=browser',
    '--conditions=workerd,worker,browser',
    '--external:node:*',
    '--external:cloudflare:*',
    '--log-level=error',
    `--outfile=${outfile}`,
  ])
}

/** Pids of the workerd processes below this one. */
function workerdPids(): number[] {
  const parent = new Map<number, number>()
  const name = new Map<number, string>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      name.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')))
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // ended while we looked
    }
  }
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) return true
    }
    return false
  }
  return [...name].filter(([pid, n]) => n.startsWith('workerd') && below(pid)).map(([pid]) => pid)
}

/** CPU nanoseconds all threads of these processes have run. */
function cpuNs(pids: readonly number[]): number {
  let total = 0
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      } catch {
        // the thread ended
      }
    }
  }
  return total
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
const median = (xs: readonly number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  )
const ms = (ns: number, d = 2) => Number((ns / 1e6).toFixed(d))

/** Runs the direct workerd benchmark and returns its figures. */
export async function runDirect(): Promise<Record<string, number | string>> {
  const mina = await startFakeMina()
  const gitlab = await startGitlabStandin({
    projects: [{ id: PROJECT, triggerTokens: [TRIGGER_TOKEN] }],
    autoRun: false,
  })
  const hpke = await generateHpkeKeyPair()
  const dir = mkdtempSync(join(tmpdir(), 'zkrunner-worker-direct-'))
  let mf: Miniflare | undefined
  try {
    await bundle(join(ROOT, 'worker/index.ts'), join(dir, 'oracle.js'))
    await bundle(join(ROOT, 'bench/worker-stages.ts'), join(dir, 'stages.js'))
    const common = {
      modules: true,
      // Module names are paths below this root: the bundles live in a temporary directory.
      modulesRoot: dir,
      compatibilityDate: '2026-10-01',
      compatibilityFlags: ['nodejs_compat'],
    }
    mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [
          {
            ...common,
            name: 'oracle',
            scriptPath: join(dir, 'oracle.js'),
            bindings: {
              HPKE_PRIVATE_KEY: hpke.privateKey,
              GITLAB_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789',
              MINA_GRAPHQL_URL: mina.url,
              GITLAB_URL: gitlab.url,
              HEARTBEAT_MAX_AGE_SLOTS: '60',
              CHAIN_CACHE_MS: '2000',
              CREDIT_TOKEN_ID: TEST_CREDIT_TOKEN_ID,
              GENUINE_SERVICE_CODE: JSON.stringify(TEST_GENUINE_CODE),
            },
            durableObjects: {
              SERVICES: { className: 'ServiceObject', useSQLite: true },
              JOBS: { className: 'JobIndex', useSQLite: true },
            },
          },
          {
            ...common,
            name: 'stages',
            scriptPath: join(dir, 'stages.js'),
            bindings: { HPKE_PRIVATE_KEY: hpke.privateKey },
          },
        ],
      }),
    )
    await mf.ready
    const oracle = mf
    const stagesWorker = await mf.getWorker('stages')
    const post = (path: string, body: string) =>
      oracle.dispatchFetch(`http://oracle.local${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }) as unknown as Promise<Response>
    const postStage = (path: string, body: string) =>
      stagesWorker.fetch(`http://stages.local${path}`, {
        method: 'POST',
        body,
      }) as unknown as Promise<Response>
    const pids = workerdPids()
    if (pids.length === 0) throw new Error('no workerd process found below the bench')

    const service = await registerService(post, mina, hpke)
    const sequential = (await jobBodies(mina, hpke, service, 4, SEQUENTIAL)).flat()
    const lanes = await jobBodies(mina, hpke, service, CONCURRENCY, REQUESTS)

    /** CPU ns of each request, one at a time; fails on any status but `expected`. */
    const measure = async (
      send: (body: string) => Promise<Response>,
      bodies: readonly string[],
      expected: number,
    ) => {
      const samples: number[] = []
      for (const body of bodies) {
        const before = cpuNs(pids)
        const res = await send(body)
        const text = await res.text()
        samples.push(cpuNs(pids) - before)
        if (res.status !== expected)
          throw new Error(`expected ${expected}, got ${res.status}: ${text}`)
      }
      return samples
    }
    // Warm-up: isolate start, JIT, the key and first-block caches, outside the measured samples.
    await measure((b) => postStage('/noop', b), sequential.slice(0, 50), 200)
    await measure((b) => postStage('/decrypt', b), sequential.slice(0, 50), 200)
    await measure((b) => postStage('/stateless', b), sequential.slice(0, 50), 200)
    // /verify takes the opened submission: decrypting is /decrypt's figure, not this one's.
    const opened: string[] = []
    for (const body of sequential) {
      const envelope = unwrap(parseEnvelope(JSON.parse(body)))
      opened.push(JSON.stringify(unwrap(await openJson([hpke], envelope, JOB_REQUEST_INFO))))
    }
    await measure((b) => postStage('/verify', b), opened.slice(0, 50), 200)
    await measure((b) => postStage('/verify-mina-signer', b), opened.slice(0, 20), 200)

    const noop = await measure((b) => postStage('/noop', b), sequential, 200)
    const decrypt = await measure((b) => postStage('/decrypt', b), sequential, 200)
    const stateless = await measure((b) => postStage('/stateless', b), sequential, 200)
    const verify = await measure((b) => postStage('/verify', b), opened, 200)
    const reference = await measure(
      (b) => postStage('/verify-mina-signer', b),
      opened.slice(0, Math.min(100, opened.length)),
      200,
    )
    const jobs = await measure((b) => post('/v1/jobs', b), sequential, 202)

    // Throughput: every lane (one user each) sends its requests in nonce order, all lanes at once.
    let ok = 0
    let errors = 0
    const t0 = performance.now()
    await Promise.all(
      lanes.map(async (lane) => {
        for (const body of lane) {
          try {
            const res = await post('/v1/jobs', body)
            await res.arrayBuffer()
            if (res.status === 202) ok++
            else errors++
          } catch {
            errors++
          }
        }
      }),
    )
    const seconds = (performance.now() - t0) / 1000

    const base = median(noop)
    const less = (samples: readonly number[]) => samples.map((n) => n - base).sort((a, b) => a - b)
    const worker = less(stateless)
    const total = less(jobs)
    const decryptMs = median(decrypt) - base
    const verifyMs = median(verify) - base
    const referenceMs = median(reference) - base
    return {
      'direct: requests measured one at a time per figure': jobs.length,
      'direct: Worker CPU ms per accepted job (stateless Worker: decrypt, parse, verify), median':
        ms(percentile(worker, 50)),
      'direct: Worker CPU ms per accepted job (stateless Worker), p99': ms(percentile(worker, 99)),
      'direct: of which decrypt (HPKE open, envelope parse) ms, median': ms(decryptMs),
      'direct: of which voucher verify ms, median': ms(verifyMs),
      'direct: mina-signer verify of the same vouchers in workerd ms, median': ms(referenceMs),
      'direct: verify speed-up over mina-signer in workerd (x)': Number(
        (referenceMs / verifyMs).toFixed(2),
      ),
      'direct: admission (Durable Objects, chain and GitLab calls) CPU ms per accepted job, median':
        ms(percentile(total, 50) - percentile(worker, 50)),
      'direct: all of workerd CPU ms per accepted POST /v1/jobs, median': ms(percentile(total, 50)),
      'direct: all of workerd CPU ms per accepted POST /v1/jobs, p99': ms(percentile(total, 99)),
      'direct: per-request baseline subtracted (dispatch, body parse) ms, median': ms(base),
      'direct: POST /v1/jobs req/s (all lanes at once)': Number((ok / seconds).toFixed(1)),
      'direct: POST /v1/jobs errors': errors,
      'direct: concurrency': CONCURRENCY,
      'direct: requests': REQUESTS,
      'direct: pipelines triggered': gitlab.pipelines.length,
    }
  } finally {
    await mf?.dispose()
    await gitlab.close()
    await mina.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

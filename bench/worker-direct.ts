import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { convertV4MiniflareOptions, Miniflare } from 'miniflare'
import { JOB_REQUEST_INFO, openJson, parseEnvelope, unwrap } from '../protocol/index.ts'
import { runLedgerAdmission } from './worker-ledger.ts'
import { cpuNs, fixed, load, median, percentile, workerdPids } from './worker-measure.ts'
import { jobBodies, registerService, startStandins, workerBindings } from './worker-setup.ts'

// POST /v1/jobs straight into workerd through Miniflare's dispatchFetch, with no `wrangler dev`
// proxy in between (that proxy tops out near 250 req/s here and hides what the Worker does).
// workerd's clocks stand still while a request computes, so the Worker cannot time itself: the
// CPU of each request is read from workerd's threads (/proc/<pid>/task/*/schedstat, nanoseconds)
// around it, one request at a time. The stages (decrypt, verify) run in a bench-only Worker in
// the same workerd (bench/worker-stages.ts); a `/noop` route that reads and parses the same body
// is the per-request baseline subtracted from each stage. The same Worker runs the oracle's own
// app with the service's Durable Object answered by a double: the front invocation (the one the
// plan's per-request CPU limit applies to), against `/empty`, a route that does not read the body.
// The oracle's whole request (front, Durable Objects, storage, outgoing calls) is read against
// the same `/empty`; admission is the whole less the front.

const ROOT = join(fileURLToPath(import.meta.url), '../..')
const SEQUENTIAL = Number(process.env.BENCH_WORKER_SEQUENTIAL ?? 300)
const REQUESTS = Number(process.env.BENCH_WORKER_DIRECT_REQUESTS ?? 2000)
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 32)
// Vouchers verified per request by the verify stages: one verify is below the per-request noise
// of reading workerd's CPU (a difference of medians of 0.3 to 1 ms came out negative under load).
const VERIFY_BATCH = Number(process.env.BENCH_WORKER_VERIFY_BATCH ?? 10)
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
    // .wasm stays an import of a module beside the bundle, as wrangler's module rules make it.
    '--external:*.wasm',
    '--log-level=error',
    `--outfile=${outfile}`,
  ])
}

const ms = (ns: number, d = 2) => Number((ns / 1e6).toFixed(d))

/** Runs the direct workerd benchmark and returns its figures. */
export async function runDirect(): Promise<Record<string, number | string>> {
  const standins = await startStandins()
  const { mina, gitlab, hpke } = standins
  // Bundles and Durable Object storage on tmpfs when there is one: the figure is the Worker's, not
  // this disk's fsync latency (Cloudflare confirms writes by replication, not a local fsync; on
  // this shared disk each commit held the Durable Object's output gate for tens of milliseconds).
  const dir = mkdtempSync(
    join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'zkrunner-worker-direct-'),
  )
  let mf: Miniflare | undefined
  try {
    await bundle(join(ROOT, 'worker/index.ts'), join(dir, 'oracle.js'))
    await bundle(join(ROOT, 'bench/worker-stages.ts'), join(dir, 'stages.js'))
    const wasm = ['poseidon.wasm', 'pallas.wasm']
    for (const file of wasm) copyFileSync(join(ROOT, 'protocol', file), join(dir, file))
    // Each bundle with the Poseidon and Pallas modules it imports (compiled-Wasm modules, as wrangler makes them).
    const modulesOf = (bundle: string) => [
      { type: 'ESModule' as const, path: join(dir, bundle) },
      ...wasm.map((file) => ({ type: 'CompiledWasm' as const, path: join(dir, file) })),
    ]
    const common = {
      // Module names are paths below this root: the bundles live in a temporary directory.
      modulesRoot: dir,
      compatibilityDate: '2026-10-01',
      compatibilityFlags: ['nodejs_compat'],
    }
    mf = new Miniflare(
      convertV4MiniflareOptions({
        resourcePersistencePath: join(dir, 'state'),
        workers: [
          {
            ...common,
            name: 'oracle',
            modules: modulesOf('oracle.js'),
            bindings: workerBindings(standins),
            durableObjects: {
              SERVICES: { className: 'ServiceObject', useSQLite: true },
              JOBS: { className: 'JobIndex', useSQLite: true },
            },
          },
          {
            ...common,
            name: 'stages',
            // Reached through the same dispatch as the oracle, so one baseline fits both.
            routes: ['stages.local/*'],
            modules: modulesOf('stages.js'),
            // The oracle's settings: its app runs here too, in front of a Durable Object double.
            bindings: workerBindings(standins),
          },
        ],
      }),
    )
    await mf.ready
    const oracle = mf
    const post = (path: string, body: string) =>
      oracle.dispatchFetch(`http://oracle.local${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }) as unknown as Promise<Response>
    const postStage = (path: string, body: string) =>
      oracle.dispatchFetch(`http://stages.local${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }) as unknown as Promise<Response>
    const pids = workerdPids()
    if (pids.length === 0) throw new Error('no workerd process found below the bench')

    const service = await registerService(post, mina, hpke)
    const sequential = (await jobBodies(mina, hpke, service, 4, SEQUENTIAL)).flat()
    const lanes = await jobBodies(mina, hpke, service, CONCURRENCY, REQUESTS)

    /** One kind of request a CPU figure reads: how it is sent, its bodies, the status it must answer. */
    interface Probe {
      send: (body: string) => Promise<Response>
      bodies: readonly string[]
      expected: number
    }
    /**
     * CPU ns of each request of each probe, one request at a time, one of each probe per round:
     * a drift in this shared machine's load falls on every figure alike, not on whichever probe's
     * phase it came in (phase by phase, the baselines of two routes drifted apart by 0.6 ms).
     * Fails on any status but a probe's `expected`.
     */
    const interleaved = async (probes: readonly Probe[]): Promise<number[][]> => {
      const samples = probes.map((): number[] => [])
      const rounds = Math.max(...probes.map((p) => p.bodies.length))
      for (let i = 0; i < rounds; i++) {
        for (const [k, probe] of probes.entries()) {
          const body = probe.bodies[i]
          if (body === undefined) continue
          const before = cpuNs(pids)
          const res = await probe.send(body)
          const text = await res.text()
          samples[k]!.push(cpuNs(pids) - before)
          if (res.status !== probe.expected)
            throw new Error(`expected ${probe.expected}, got ${res.status}: ${text}`)
        }
      }
      return samples
    }
    // /verify takes the opened submission: decrypting is /decrypt's figure, not this one's.
    const opened: string[] = []
    for (const body of sequential) {
      const envelope = unwrap(parseEnvelope(JSON.parse(body)))
      opened.push(JSON.stringify(unwrap(await openJson([hpke], envelope, JOB_REQUEST_INFO))))
    }
    // Each batch is VERIFY_BATCH distinct submissions (consecutive, wrapping round).
    const batches = opened.map(
      (_, i) =>
        `[${Array.from({ length: VERIFY_BATCH }, (_, k) => opened[(i + k) % opened.length]).join(',')}]`,
    )
    const stage = (path: string, bodies: readonly string[], expected = 200): Probe => ({
      send: (b) => postStage(path, b),
      bodies,
      expected,
    })
    const health = () =>
      oracle.dispatchFetch('http://oracle.local/v1/health') as unknown as Promise<Response>
    // Warm-up: isolate start, JIT, the key and first-block caches, outside the measured samples.
    const warm = sequential.slice(0, 50)
    await interleaved([
      stage('/empty', warm),
      stage('/noop', warm),
      stage('/v1/jobs', warm, 202),
      stage('/decrypt', warm),
      stage('/stateless', warm),
      stage('/parse', batches.slice(0, 50)),
      stage('/verify', batches.slice(0, 50)),
      stage('/verify-mina-signer', batches.slice(0, 10)),
      { send: health, bodies: warm, expected: 200 },
    ])
    const [
      empty = [],
      noop = [],
      front = [],
      decrypt = [],
      statelessSamples = [],
      parse = [],
      verify = [],
      reference = [],
      jobs = [],
      healthCpu = [],
    ] = await interleaved([
      stage('/empty', sequential),
      stage('/noop', sequential),
      stage('/v1/jobs', sequential, 202),
      stage('/decrypt', sequential),
      stage('/stateless', sequential),
      stage('/parse', batches),
      stage('/verify', batches),
      stage('/verify-mina-signer', batches.slice(0, Math.min(100, batches.length))),
      // The oracle's own: each lane's vouchers in nonce order (the rounds keep the order).
      { send: (b) => post('/v1/jobs', b), bodies: sequential, expected: 202 },
      { send: health, bodies: sequential, expected: 200 },
    ])

    // Throughput: every lane (one user each) sends its requests in nonce order, all lanes at once;
    // GET /v1/health through the same dispatch path is the baseline (the ceiling of this client).
    const throughput = await load(
      lanes.map((lane) => lane.map((body) => () => post('/v1/jobs', body))),
      202,
    )
    const healthLoad = await load(
      lanes.map((lane) => lane.map(() => health)),
      200,
    )

    // Admission against ledgers of many actions: first read against the incremental ones.
    const ledger = await runLedgerAdmission(post, standins, hpke, pids)

    const base = median(noop)
    const bare = median(empty)
    const less = (samples: readonly number[], by: number) =>
      samples.map((n) => n - by).sort((a, b) => a - b)
    const stateless = less(statelessSamples, base)
    const frontCpu = less(front, bare)
    const total = less(jobs, bare)
    // GET /v1/health less the dispatch is within the per-request noise of zero (it came out
    // negative): as a ratio's base it is taken whole, dispatch included, like the job it divides.
    const healthMs = median(healthCpu)
    const jobMs = median(jobs)
    // Both verifiers start from the parsed voucher: the submission's schema parse is neither's.
    const parsed = median(parse)
    const verifyMs = (median(verify) - parsed) / VERIFY_BATCH
    const referenceMs = (median(reference) - parsed) / VERIFY_BATCH
    const parseMs = (parsed - base) / VERIFY_BATCH
    const jobRate = throughput.ok / throughput.seconds
    const healthRate = healthLoad.ok / healthLoad.seconds
    return {
      'direct: requests measured one at a time per CPU figure': jobs.length,
      'direct: workerd CPU ms per accepted POST /v1/jobs, whole request (front, Durable Objects, storage, outgoing calls), median (target ≤ 3)':
        ms(percentile(total, 50)),
      'direct: workerd CPU ms per accepted POST /v1/jobs, whole request, p99': ms(
        percentile(total, 99),
      ),
      'direct: of which the front invocation (routing, body, decrypt, parse, verify) ms, median':
        ms(percentile(frontCpu, 50)),
      'direct: of which the front invocation ms, p99': ms(percentile(frontCpu, 99)),
      'direct: of which admission (Durable Objects, storage, chain and GitLab calls) ms, median':
        ms(percentile(total, 50) - percentile(frontCpu, 50)),
      'direct: front stages decrypt + parse + verify ms, median': ms(percentile(stateless, 50)),
      'direct: of which decrypt (HPKE open, envelope parse) ms, median': ms(median(decrypt) - base),
      'direct: vouchers verified per request by the verify stages': VERIFY_BATCH,
      'direct: of which submission parse (JSON, zod) ms per submission, median': ms(parseMs, 3),
      'direct: of which voucher verify ms per voucher, median': ms(verifyMs, 3),
      'direct: mina-signer verify of the same vouchers ms per voucher, median (baseline)': ms(
        referenceMs,
        3,
      ),
      'direct: verify speed-up over mina-signer (x, target ≥ 3)': fixed(referenceMs / verifyMs),
      'direct: the same with the submission parse counted in both (x)': fixed(
        (referenceMs + parseMs) / (verifyMs + parseMs),
      ),
      'direct: workerd CPU ms per GET /v1/health, dispatch included, median (baseline)':
        ms(healthMs),
      'direct: workerd CPU ms per accepted POST /v1/jobs, dispatch included, median': ms(jobMs),
      'direct: ratio POST /v1/jobs / GET /v1/health CPU, dispatch included in both (x)': fixed(
        jobMs / healthMs,
        1,
      ),
      'direct: per-request baseline subtracted from the stages (dispatch, body read and parse) ms, median':
        ms(base),
      'direct: per-request baseline subtracted from the front and whole request (dispatch) ms, median':
        ms(bare),
      'direct: POST /v1/jobs req/s, all lanes at once (target ≥ 500)': fixed(jobRate, 1),
      'direct: POST /v1/jobs errors': throughput.errors,
      'direct: POST /v1/jobs first errors': throughput.failures.join(' | ') || 'none',
      'direct: POST /v1/jobs latency p50 ms': fixed(percentile(throughput.latencies, 50), 1),
      'direct: POST /v1/jobs latency p99 ms': fixed(percentile(throughput.latencies, 99), 1),
      'direct: GET /v1/health req/s, same client (baseline)': fixed(healthRate, 1),
      'direct: ratio POST /v1/jobs / GET /v1/health throughput (x)': fixed(jobRate / healthRate, 3),
      'direct: concurrency (lanes, one user each)': CONCURRENCY,
      'direct: requests': REQUESTS,
      'direct: pipelines triggered': gitlab.pipelines.length,
      ...ledger,
    }
  } finally {
    await mf?.dispose()
    await standins.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

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
    await measure((b) => postStage('/empty', b), sequential.slice(0, 50), 200)
    await measure((b) => postStage('/noop', b), sequential.slice(0, 50), 200)
    await measure((b) => postStage('/v1/jobs', b), sequential.slice(0, 50), 202)
    await measure((b) => postStage('/decrypt', b), sequential.slice(0, 50), 200)
    await measure((b) => postStage('/stateless', b), sequential.slice(0, 50), 200)
    // /verify takes the opened submission: decrypting is /decrypt's figure, not this one's.
    const opened: string[] = []
    for (const body of sequential) {
      const envelope = unwrap(parseEnvelope(JSON.parse(body)))
      opened.push(JSON.stringify(unwrap(await openJson([hpke], envelope, JOB_REQUEST_INFO))))
    }
    await measure((b) => postStage('/parse', b), opened.slice(0, 50), 200)
    await measure((b) => postStage('/verify', b), opened.slice(0, 50), 200)
    await measure((b) => postStage('/verify-mina-signer', b), opened.slice(0, 20), 200)

    const empty = await measure((b) => postStage('/empty', b), sequential, 200)
    const noop = await measure((b) => postStage('/noop', b), sequential, 200)
    const front = await measure((b) => postStage('/v1/jobs', b), sequential, 202)
    const decrypt = await measure((b) => postStage('/decrypt', b), sequential, 200)
    const statelessSamples = await measure((b) => postStage('/stateless', b), sequential, 200)
    const parse = await measure((b) => postStage('/parse', b), opened, 200)
    const verify = await measure((b) => postStage('/verify', b), opened, 200)
    const reference = await measure(
      (b) => postStage('/verify-mina-signer', b),
      opened.slice(0, Math.min(100, opened.length)),
      200,
    )
    const jobs = await measure((b) => post('/v1/jobs', b), sequential, 202)
    const healthCpu = await measure(
      () => oracle.dispatchFetch('http://oracle.local/v1/health') as unknown as Promise<Response>,
      sequential,
      200,
    )

    // Throughput: every lane (one user each) sends its requests in nonce order, all lanes at once;
    // GET /v1/health through the same dispatch path is the baseline (the ceiling of this client).
    const throughput = await load(
      lanes.map((lane) => lane.map((body) => () => post('/v1/jobs', body))),
      202,
    )
    const health = await load(
      lanes.map((lane) =>
        lane.map(
          () => () =>
            oracle.dispatchFetch('http://oracle.local/v1/health') as unknown as Promise<Response>,
        ),
      ),
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
    const verifyMs = median(verify) - parsed
    const referenceMs = median(reference) - parsed
    const jobRate = throughput.ok / throughput.seconds
    const healthRate = health.ok / health.seconds
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
      'direct: of which submission parse (zod) ms, median': ms(parsed - base),
      'direct: of which voucher verify ms, median': ms(verifyMs),
      'direct: mina-signer verify of the same vouchers ms, median (baseline)': ms(referenceMs),
      'direct: verify speed-up over mina-signer (x, target ≥ 3)': fixed(referenceMs / verifyMs),
      'direct: the same with the submission parse counted in both (x)': fixed(
        (referenceMs + parsed - base) / (verifyMs + parsed - base),
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

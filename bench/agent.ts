// Agent benchmark: sampling overhead on a CPU-bound job of ~4 s of CPU (each run under the agent
// bracketed by bare runs; median ratios of the job's wall and CPU time, the agent's own CPU while
// the job runs, and its fixed per-job set-up), the built agent's peak RSS through a whole `run`
// (read from /proc of its process; a short job, a long one, a 1 GiB artifact), and
// hash+import+pin of a 1 GiB bundle vs sha256sum of the same bytes. Ratios come from the same
// run: the host is shared and loaded.
// Parts: ZKRUNNER_BENCH_PARTS=overhead,rss,pin (all by default).
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pinBundle, sealBundle } from '../agent/bundle/build-bundle.ts'
import { openIpfsNode } from '../agent/ipfs/node.ts'
import { runJob } from '../agent/run/run-job.ts'
import { parseProcStat, processTree } from '../agent/sampling/procfs.ts'
import { generateMinaKeyPair } from '../protocol/index.ts'

const execFileP = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const PARTS = new Set((process.env.ZKRUNNER_BENCH_PARTS ?? 'overhead,rss,pin').split(','))
const REPS = Number(process.env.ZKRUNNER_BENCH_REPS ?? 12)
const BUNDLE_BYTES = Number(process.env.ZKRUNNER_BENCH_BUNDLE_BYTES ?? 2 ** 30)
const INTERVAL_MS = 100
/** CPU time of the benchmark's job: long enough that start-up costs do not dominate. */
const JOB_CPU_MS = 4000
const dir = await mkdtemp(join(tmpdir(), 'zkrunner-bench-agent-'))
const sink = { write: () => true } as never
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const quartile = (xs: number[], q: 1 | 3) =>
  [...xs].sort((a, b) => a - b)[Math.floor(((xs.length - 1) * q) / 4)]!

/** CPU time (ms) of a process, from the agent's own /proc/<pid>/stat parser; 0 once it is gone. */
function cpuMsOf(pid: number): number {
  try {
    const s = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'latin1'))
    return s ? ((s.utime + s.stime) * 1000) / 100 : 0
  } catch {
    return 0
  }
}

/**
 * Follows the perf process runJob attaches and adds up its CPU: perf runs beside the agent and is
 * part of what sampling costs. Polled twice a second (this runs in the agent's process, and the
 * agent's CPU is measured too): the children lists until perf appears, then its stat alone.
 */
function watchPerfChildren(): { stop(): number } {
  let perfPid: number | undefined
  let perfCpu = 0
  const look = async () => {
    perfPid ??= (await processTree(process.pid)).find((s) => s.comm === 'perf')?.pid
    if (perfPid) perfCpu = Math.max(perfCpu, cpuMsOf(perfPid))
  }
  const timer = setInterval(() => void look(), 500)
  return {
    stop() {
      clearInterval(timer)
      return perfCpu
    },
  }
}

/**
 * A CPU-bound job: a fixed amount of work (millions of iterations), so its wall time grows with any
 * interference. Nested loops over small integers: one long loop whose counter or sum outgrew int32
 * would make V8 switch to doubles partway and run ~3x slower than the calibration predicted.
 */
function loopScript(millions: number): string {
  return `let x=0;for(let j=0;j<${millions};j++)for(let i=0;i<1e6;i++)x=(x+i%7)|0;const u=process.cpuUsage();console.log((u.user+u.system)/1000)`
}

/** A run without the agent: its wall time, and the CPU time the loop reports for itself. */
async function bare(script: string): Promise<{ wallMs: number; cpuMs: number }> {
  const t = performance.now()
  const out = await execFileP(process.execPath, ['-e', script])
  return { wallMs: performance.now() - t, cpuMs: Number(out.stdout.trim()) }
}

async function sampled(script: string, i: number) {
  const outDir = join(dir, `run-${i}`)
  await mkdir(outDir, { recursive: true })
  const cpuMs = () => {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }
  const before = cpuMs()
  const t = performance.now()
  // The agent's CPU while the job runs: from the job's start to the last tick before it exits.
  let atStart = { cpu: 0, t: 0 }
  let lastTick = { cpu: 0, t: 0 }
  const o = await runJob({
    command: process.execPath,
    args: ['-e', script],
    outDir,
    env: process.env,
    intervalMs: INTERVAL_MS,
    perf: process.env.ZKRUNNER_BENCH_PERF === 'off' ? 'off' : 'auto',
    cgroup: true,
    cgroupName: `zkrunner-bench-${process.pid}-${i}`,
    stdout: sink,
    stderr: sink,
    onStart: () => {
      atStart = { cpu: cpuMs(), t: performance.now() }
    },
    onSample: () => {
      lastTick = { cpu: cpuMs(), t: performance.now() }
    },
  })
  return {
    /** runJob from call to return: the agent's set-up and wrap-up included. */
    totalMs: performance.now() - t,
    /** The job's own wall time, from being let run to its exit (as the manifest records it). */
    wallMs: o.wallMs,
    jobCpuMs: o.sampling.cpuMs,
    agentCpuMs: cpuMs() - before,
    agentCpuPerSecond: ((lastTick.cpu - atStart.cpu) * 1000) / (lastTick.t - atStart.t),
    o,
  }
}

console.log('# zkrunner agent benchmark')

if (PARTS.has('overhead')) {
  // This VM's speed drifts by up to ±25 % between identical runs (shared host), far more than the
  // 2 % to resolve. So: each run under the agent bracketed by bare runs, the median of the ratios,
  // the spread of bare-vs-bare pairs as the resolution, and the CPU the agent and perf spend per
  // CPU-second of job, which the host's noise does not blur.
  // Calibrated on CPU time (the loop prints its own), so a loaded host does not shorten the job.
  const probe = 200
  const probeCpuMs = (await bare(loopScript(probe))).cpuMs
  const millions = Math.round((probe * JOB_CPU_MS) / Math.max(probeCpuMs, 1))
  const job = loopScript(millions)
  const ratios: number[] = []
  const cpuRatios: number[] = []
  const noise: number[] = []
  const bareMs: number[] = []
  const agentMs: number[] = []
  const fixedMs: number[] = []
  const costMs: number[] = []
  const rate: number[] = []
  const jobCpu: number[] = []
  let sources = ''
  for (let i = 0; i < REPS; i++) {
    // Bracketed: the baseline is the geometric mean of a bare run before and one after.
    const b1 = await bare(job)
    const perf = watchPerfChildren()
    const s = await sampled(job, i)
    const perfCpuMs = perf.stop()
    const b2 = await bare(job)
    const b = Math.sqrt(b1.wallMs * b2.wallMs)
    ratios.push(s.wallMs / b)
    // The job's CPU under the agent is its cgroup's (the loop's output goes to the bundle).
    cpuRatios.push(s.jobCpuMs / Math.sqrt(b1.cpuMs * b2.cpuMs))
    noise.push(b2.wallMs / b1.wallMs)
    bareMs.push(b)
    agentMs.push(s.wallMs)
    fixedMs.push(s.totalMs - s.wallMs)
    costMs.push(s.agentCpuMs + perfCpuMs)
    rate.push(s.agentCpuPerSecond)
    jobCpu.push(s.jobCpuMs)
    sources = s.o.sampling.sources.join('+')
  }
  const pct = (x: number) => `${((x - 1) * 100).toFixed(1)} %`
  const spread = (xs: number[]) => `quartiles ${pct(quartile(xs, 1))}..${pct(quartile(xs, 3))}`
  const r = median(ratios)
  console.log(
    `overhead (${REPS} bracketed runs, ~${JOB_CPU_MS / 1000} s CPU job, ${INTERVAL_MS} ms interval, ${sources}): the job's wall time bare ${median(bareMs).toFixed(0)} ms, under the agent ${median(agentMs).toFixed(0)} ms; median ratio ${r.toFixed(4)} (${pct(r)}; ${spread(ratios)}) [target <= 2 %]`,
  )
  const c = median(cpuRatios)
  console.log(
    `overhead: the job's CPU time under the agent vs bare: median ratio ${c.toFixed(4)} (${pct(c)}; ${spread(cpuRatios)}) [target <= 2 %]`,
  )
  console.log(`overhead resolution: bare-vs-bare wall times on this host spread ${spread(noise)}`)
  console.log(
    `overhead: the agent's own CPU while the job runs: ${median(rate).toFixed(1)} ms per second (${(median(rate) / 10).toFixed(2)} % of one core); set-up and wrap-up add ${median(fixedMs).toFixed(0)} ms of wall time per job (perf start, cgroup, final samples file)`,
  )
  const share = median(costMs.map((c, i) => c / jobCpu[i]!))
  console.log(
    `overhead: agent + perf CPU per job, all included: ${median(costMs).toFixed(0)} ms per ${median(jobCpu).toFixed(0)} ms of job CPU (${(share * 100).toFixed(2)} %)`,
  )
}

/** Writes `bytes` of distinct 1 MiB blocks, so deduplication cannot flatter the importer. */
async function writeDistinctBlocks(file: string, bytes: number): Promise<void> {
  const block = randomBytes(2 ** 20)
  await new Promise<void>((resolve, reject) => {
    const w = createWriteStream(file)
    let n = 0
    const more = () => {
      while (n * 2 ** 20 < bytes) {
        block.writeUInt32BE(n++, 0)
        if (!w.write(Buffer.from(block))) return void w.once('drain', more)
      }
      w.end(resolve)
    }
    w.on('error', reject)
    more()
  })
}

if (PARTS.has('rss')) {
  // The agent as a runner host runs it: built (`npm run build`) and started by bin/zkrunner-agent,
  // in its own process. A 2 s job, then bundle, sign, pin; the process's VmHWM is polled. Then the
  // same with a large artifact, where pinning dominates.
  await execFileP(process.execPath, [join(root, 'scripts/build-agent.mjs')])
  const env = {
    ...process.env,
    ZKRUNNER_DATA_DIR: join(dir, 'rss-data'),
    ZKRUNNER_WORKER_URL: 'http://127.0.0.1:9',
    ZKRUNNER_REPORT_ATTEMPTS: '1',
    ZKRUNNER_METRICS_LISTEN: '127.0.0.1:0',
    ZKRUNNER_INTERVAL_MS: String(INTERVAL_MS),
  }
  const agentBin = join(root, 'bin/zkrunner-agent')
  await execFileP(agentBin, ['keygen'], { env, cwd: root })
  const key = generateMinaKeyPair().publicKey
  const measure = async (args: string[]) => {
    const child = spawn(
      agentBin,
      ['run', '--service', key, '--user', key, '--source-commitment', 'a'.repeat(40), ...args],
      { env, cwd: dir, stdio: 'ignore' },
    )
    let hwmKb = 0
    let duringJobKb = 0
    const started = performance.now()
    const poll = setInterval(async () => {
      const text = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '')
      const m = /^VmHWM:\s+(\d+)/m.exec(text)
      if (m) hwmKb = Math.max(hwmKb, Number(m[1]))
      const rss = /^VmRSS:\s+(\d+)/m.exec(text)
      // The job runs for the first 2 s; bundling and pinning come after.
      if (rss && performance.now() - started < 1800)
        duringJobKb = Math.max(duringJobKb, Number(rss[1]))
    }, 20)
    const code = await new Promise((r) => child.on('exit', r))
    clearInterval(poll)
    if (code !== 0) throw new Error(`zkrunner-agent run ${args.join(' ')} exited with ${code}`)
    const mib = (kb: number) =>
      `${(kb / 1024).toFixed(0)} MiB = ${((kb * 1024) / 1e6).toFixed(0)} MB`
    return {
      peakKb: hwmKb,
      peak: mib(hwmKb),
      duringJob: mib(duringJobKb),
      seconds: ((performance.now() - started) / 1000).toFixed(1),
    }
  }
  const job = [
    '--',
    process.execPath,
    '-e',
    'const t=Date.now();let x=0;while(Date.now()-t<2000)x+=Math.sqrt(x+1)',
  ]
  const small = await measure(job)
  console.log(
    `agent peak RSS (built agent, VmHWM over a whole \`run\`: 2 s job, bundle, sign, pin): ${small.peak}; while the job runs: ${small.duringJob} [target <= 150 MB]`,
  )
  // A long job: the agent streams its samples to disk and keeps none in memory, so 3,000 of them
  // (30 s at a 10 ms interval, as many as 5 min at 100 ms) must not raise its peak much.
  const long = await measure(['--interval', '10', '--', 'sleep', '30'])
  console.log(
    `agent peak RSS through a long job (30 s at a 10 ms interval, ~3,000 samples, as many as 5 min at 100 ms): ${long.peak}; ratio to the 2 s job ${(long.peakKb / small.peakKb).toFixed(2)} [target <= 150 MB]`,
  )
  const artifact = join(dir, 'rss-artifact.bin')
  await writeDistinctBlocks(artifact, BUNDLE_BYTES)
  // Artifacts are named relative to the job's directory (here `dir`).
  const large = await measure(['--artifact', 'rss-artifact.bin', ...job])
  await rm(artifact)
  console.log(
    `agent peak RSS with a ${BUNDLE_BYTES / 2 ** 20} MiB artifact to hash and pin (${large.seconds} s): ${large.peak} [target <= 150 MB]`,
  )
}

if (PARTS.has('pin')) {
  const bundleDir = join(dir, 'bundle')
  await mkdir(bundleDir)
  const file = join(bundleDir, 'artifact.bin')
  await writeDistinctBlocks(file, BUNDLE_BYTES)
  const shaRuns: number[] = []
  const pinRuns: number[] = []
  const sealRuns: number[] = []
  const runner = generateMinaKeyPair()
  for (let i = 0; i < Number(process.env.ZKRUNNER_BENCH_PIN_REPS ?? 2); i++) {
    let t = performance.now()
    await execFileP('sha256sum', [file])
    shaRuns.push((performance.now() - t) / 1000)
    const helia = await openIpfsNode({ dataDir: join(dir, `data-${i}`) })
    t = performance.now()
    const sealed = await sealBundle({
      helia,
      bundleDir,
      meta: {
        jobId: 'f'.repeat(32),
        service: runner.publicKey,
        user: runner.publicKey,
        sourceCommitment: 'a'.repeat(40),
        command: 'x',
        args: [],
        artifacts: [],
        cwd: dir,
        createdAt: new Date().toISOString(),
      },
      outcome: {
        exitCode: 0,
        signal: null,
        startedAt: new Date().toISOString(),
        endedAt: new Date().toISOString(),
        wallMs: 1,
      },
      sampling: {
        source: 'procfs',
        sources: ['procfs'],
        intervalMs: 100,
        cpuMs: 1,
        peakRssBytes: 1,
        cgroupPeakMemoryBytes: null,
        perfEvents: [],
        notSupported: [],
        perfTotals: {},
        records: 1,
      },
      runner,
    })
    sealRuns.push((performance.now() - t) / 1000)
    await pinBundle({ helia, bundleDir, fileCids: sealed.fileCids })
    pinRuns.push((performance.now() - t) / 1000)
    await helia.stop()
    await rm(join(dir, `data-${i}`), { recursive: true, force: true })
  }
  const mb = BUNDLE_BYTES / 2 ** 20
  const sha = median(shaRuns)
  const seal = median(sealRuns)
  const pin = median(pinRuns)
  console.log(
    `${mb} MiB bundle: sha256sum ${(mb / sha).toFixed(0)} MiB/s; agent hash+import ${(mb / seal).toFixed(0)} MiB/s; hash+import+pin ${(mb / pin).toFixed(0)} MiB/s (${((sha / pin) * 100).toFixed(0)} % of sha256sum) [target >= 70 %]`,
  )
  console.log(
    `bench process peak RSS (1 GiB pin in process): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  )
}
await rm(dir, { recursive: true, force: true })

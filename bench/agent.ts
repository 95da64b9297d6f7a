// Agent benchmark: sampling overhead, agent peak RSS, hash+pin throughput of a 1 GiB bundle vs sha256sum.
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pinBundle, sealBundle } from '../agent/bundle/build-bundle.ts'
import { openIpfsNode } from '../agent/ipfs/node.ts'
import { runJob } from '../agent/run/run-job.ts'
import { generateMinaKeyPair } from '../protocol/index.ts'

const execFileP = promisify(execFile)
const GIB = Number(process.env.ZKRUNNER_BENCH_BUNDLE_BYTES ?? 2 ** 30)
const LOOP = `let x=0;for(let i=0;i<${process.env.ZKRUNNER_BENCH_LOOP ?? '4e8'};i++)x+=i%7;const u=process.cpuUsage();console.log((u.user+u.system)/1000)`
const dir = await mkdtemp(join(tmpdir(), 'zkrunner-bench-agent-'))
const sink = { write: () => true } as never

async function bare(): Promise<{ wallMs: number; cpuMs: number }> {
  const t = performance.now()
  let out = ''
  await new Promise<void>((resolve) => {
    const c = spawn(process.execPath, ['-e', LOOP], { stdio: ['ignore', 'pipe', 'inherit'] })
    c.stdout.on('data', (b) => (out += b))
    c.on('exit', () => resolve())
  })
  return { wallMs: performance.now() - t, cpuMs: Number(out.trim()) }
}

async function sampled(i: number): Promise<{ wallMs: number; cpuMs: number; agentCpuMs: number }> {
  const before = process.cpuUsage()
  const t = performance.now()
  const o = await runJob({
    command: process.execPath,
    args: ['-e', LOOP],
    outDir: join(dir, `run-${i}`),
    intervalMs: 100,
    perf: 'auto',
    cgroup: true,
    cgroupName: `zkrunner-bench-${process.pid}-${i}`,
    stdout: sink,
    stderr: sink,
  })
  const wallMs = performance.now() - t
  const u = process.cpuUsage(before)
  return { wallMs, cpuMs: o.sampling.cpuMs, agentCpuMs: (u.user + u.system) / 1000 }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

console.log('# zkrunner agent benchmark')
const b: { wallMs: number; cpuMs: number }[] = []
const s: { wallMs: number; cpuMs: number; agentCpuMs: number }[] = []
for (let i = 0; i < 3; i++) {
  await mkdir(join(dir, `run-${i}`), { recursive: true })
  b.push(await bare())
  s.push(await sampled(i))
}
const bw = median(b.map((x) => x.wallMs))
const sw = median(s.map((x) => x.wallMs))
const bc = median(b.map((x) => x.cpuMs))
const sc = median(s.map((x) => x.cpuMs))
const ac = median(s.map((x) => x.agentCpuMs))
console.log(
  `overhead: bare wall ${bw.toFixed(0)} ms, sampled wall ${sw.toFixed(0)} ms (${(((sw - bw) / bw) * 100).toFixed(2)} %)`,
)
console.log(
  `overhead: job CPU bare ${bc.toFixed(0)} ms, sampled ${sc.toFixed(0)} ms; agent's own CPU ${ac.toFixed(0)} ms (${((ac / bc) * 100).toFixed(2)} % of the job) [target <= 2 %]`,
)

// 1 GiB bundle: distinct 1 MiB blocks so deduplication cannot flatter the importer.
const bundleDir = join(dir, 'bundle')
await mkdir(bundleDir)
const file = join(bundleDir, 'artifact.bin')
const block = randomBytes(2 ** 20)
await new Promise<void>((resolve, reject) => {
  const w = createWriteStream(file)
  let n = 0
  const more = () => {
    while (n * 2 ** 20 < GIB) {
      block.writeUInt32BE(n++, 0)
      if (!w.write(Buffer.from(block))) return void w.once('drain', more)
    }
    w.end(resolve)
  }
  w.on('error', reject)
  more()
})
let t = performance.now()
await execFileP('sha256sum', [file])
const shaSec = (performance.now() - t) / 1000
const helia = await openIpfsNode({ dataDir: join(dir, 'data') })
const runner = generateMinaKeyPair()
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
const sealSec = (performance.now() - t) / 1000
await pinBundle({ helia, bundleDir, fileCids: sealed.fileCids })
const pinSec = (performance.now() - t) / 1000
await helia.stop()
const mb = GIB / 2 ** 20
console.log(
  `1 GiB: sha256sum ${(mb / shaSec).toFixed(0)} MiB/s; agent hash+import ${(mb / sealSec).toFixed(0)} MiB/s; hash+import+pin ${(mb / pinSec).toFixed(0)} MiB/s (${((shaSec / pinSec) * 100).toFixed(0)} % of sha256sum) [target >= 70 %]`,
)
console.log(
  `agent peak RSS (sampling + 1 GiB pin in one process): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB [target <= 150 MB]`,
)
await rm(dir, { recursive: true, force: true })

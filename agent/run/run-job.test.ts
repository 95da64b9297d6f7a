import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_PERF_EVENTS, probePerf } from '../sampling/perf.ts'
import { parseJsonLines, type SampleRecord, type SamplesHeader } from '../sampling/samples.ts'
import { runJob } from './run-job.ts'

let dir: string
const out: Buffer[] = []
const sink = { write: (b: Buffer) => out.push(b) } as never
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-run-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const run = (
  name: string,
  command: string,
  args: string[],
  extra: Partial<Parameters<typeof runJob>[0]> = {},
) =>
  runJob({
    command,
    args,
    outDir: dir,
    env: process.env,
    intervalMs: 50,
    perf: 'auto',
    cgroup: true,
    cgroupName: `zkrunner-test-${name}-${process.pid}`,
    stdout: sink,
    stderr: sink,
    ...extra,
  })

describe('runJob on real processes', () => {
  it('a CPU-bound job: samples present, CPU time close to what the process itself measured', async () => {
    // The header of the file as it stands while the job runs (what a killed agent leaves).
    let liveHeader: SampleRecord | undefined
    const o = await run(
      'cpu',
      process.execPath,
      [
        '-e',
        'const t=Date.now(); let x=0; while(Date.now()-t<700) x+=Math.sqrt(x+1); const u=process.cpuUsage(); console.log(JSON.stringify({ms:(u.user+u.system)/1000}))',
      ],
      {
        onSample: () => {
          liveHeader ??= parseJsonLines(
            readFileSync(join(dir, 'samples.jsonl'), 'utf8').split('\n')[0]!,
          )[0]
        },
      },
    )
    expect(o.exitCode).toBe(0)
    const self = JSON.parse(await readFile(join(dir, 'stdout.log'), 'utf8')) as { ms: number }
    expect(o.sampling.cpuMs).toBeGreaterThan(self.ms * 0.9)
    expect(o.sampling.cpuMs).toBeLessThan(self.ms * 1.3 + 150)
    const records = parseJsonLines(await readFile(o.files.samples, 'utf8'))
    expect(records[0]?.kind).toBe('header')
    expect(records.filter((r) => r.kind === 'proc').length).toBeGreaterThan(5)
    // Streamed in time order, whichever source each record came from.
    const ts = records.flatMap((r) => (r.kind === 'header' ? [] : [r.t]))
    expect(ts).toEqual([...ts].sort((a, b) => a - b))
    const perf = await probePerf('perf', DEFAULT_PERF_EVENTS)
    if (perf.available) {
      expect(o.sampling.sources).toContain('perf')
      expect(o.sampling.perfTotals['task-clock']).toBeGreaterThan(self.ms * 0.9)
      // Events this machine cannot count are named in the header, and not sampled every interval.
      const header = records[0] as SamplesHeader
      expect(header.perfEvents).toEqual([...DEFAULT_PERF_EVENTS])
      expect(header.notSupported).toEqual([...(perf.notSupported ?? [])].sort())
      expect(o.sampling.notSupported).toEqual(header.notSupported)
      expect(liveHeader).toMatchObject({ kind: 'header', notSupported: header.notSupported })
      const perfRecords = records.filter((r) => r.kind === 'perf')
      expect(perfRecords.length).toBeGreaterThan(5)
      for (const r of perfRecords) {
        expect(r.values).toHaveProperty('task-clock')
        for (const e of header.notSupported) expect(r.values).not.toHaveProperty(e)
      }
    } else {
      // No perf permission here: procfs must carry the run alone.
      expect(o.sampling.sources).toContain('procfs')
      expect(o.perfUnavailable).toBeTruthy()
    }
  })

  it('a memory-hungry job: peak RSS covers what it touched, within sensible bounds', async () => {
    const o = await run('mem', process.execPath, [
      '-e',
      'const b=Buffer.alloc(200*2**20,1); setTimeout(()=>console.log(b[5]),400)',
    ])
    expect(o.exitCode).toBe(0)
    expect(o.sampling.peakRssBytes).toBeGreaterThan(200 * 2 ** 20)
    expect(o.sampling.peakRssBytes).toBeLessThan(450 * 2 ** 20)
    if (o.sampling.cgroupPeakMemoryBytes !== null)
      expect(o.sampling.cgroupPeakMemoryBytes).toBeGreaterThan(200 * 2 ** 20)
  })

  it('follows children a job forks', async () => {
    const kid = `${process.execPath} -e "let x=0;for(let i=0;i<3e7;i++)x+=i%7;const u=process.cpuUsage();console.log((u.user+u.system)/1000)"`
    const o = await run('fork', 'sh', ['-c', `${kid} & ${kid} & wait`])
    expect(o.exitCode).toBe(0)
    const own = (await readFile(o.files.stdout, 'utf8')).trim().split('\n').map(Number)
    expect(own).toHaveLength(2)
    expect(o.sampling.cpuMs).toBeGreaterThan((own[0]! + own[1]!) * 0.9)
    const procs = parseJsonLines(await readFile(o.files.samples, 'utf8')).filter(
      (r) => r.kind === 'proc',
    )
    expect(
      Math.max(...procs.map((r) => (r.kind === 'proc' ? r.processes : 0))),
    ).toBeGreaterThanOrEqual(3)
  })
})

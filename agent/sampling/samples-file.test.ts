import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseJsonLines, SAMPLES_FORMAT, type SampleRecord, type SamplesHeader } from './samples.ts'
import { SamplesFile } from './samples-file.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-samples-file-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const header = (sources: string[]): SamplesHeader => ({
  kind: 'header',
  format: SAMPLES_FORMAT,
  intervalMs: 100,
  sources,
  perfEvents: ['task-clock'],
  notSupported: [],
})
const proc = (t: number): SampleRecord => ({
  kind: 'proc',
  t,
  processes: 1,
  cpuMs: t,
  rssBytes: 1,
  hwmBytes: 1,
})
const cgroup = (t: number): SampleRecord => ({
  kind: 'cgroup',
  t,
  cpuMs: t,
  memoryBytes: 1,
  peakMemoryBytes: 1,
})
const perf = (t: number) =>
  ({ kind: 'perf', t, values: { 'task-clock': 1 }, status: { 'task-clock': 'counted' } }) as const
const times = (records: SampleRecord[]) =>
  records.map((r) => (r.kind === 'header' ? 'h' : `${r.kind[0]}${r.t}`))
const lines = async (path: string) => parseJsonLines(await readFile(path, 'utf8'))

describe('SamplesFile', () => {
  it('writes tick records at once when no perf records will come', async () => {
    const path = join(dir, 'no-perf.jsonl')
    const file = new SamplesFile(path, header([]), null)
    file.addTick([proc(0), cgroup(0)])
    file.addTick([proc(100), cgroup(100)])
    // Already on disk while the job runs.
    expect(times(await lines(path))).toEqual(['h', 'p0', 'c0', 'p100', 'c100'])
    expect(await file.finish(header(['procfs', 'cgroup']))).toBe(5)
    const records = await lines(path)
    expect(records[0]).toEqual(header(['procfs', 'cgroup']))
    expect(times(records)).toEqual(['h', 'p0', 'c0', 'p100', 'c100'])
  })

  it('holds tick records until the perf interval covering them is written: the file stays in time order', async () => {
    const path = join(dir, 'perf.jsonl')
    const file = new SamplesFile(path, header([]), 100)
    file.addTick([proc(0)])
    file.addTick([proc(100)])
    file.addTick([proc(200)])
    // perf's interval ending at 150 ms arrives after the sampler's 200 ms tick.
    file.addPerf(perf(150))
    expect(times(await lines(path))).toEqual(['h', 'p0', 'p100', 'p150'])
    file.addTick([proc(300)])
    file.addPerf(perf(250))
    expect(await file.finish(header(['perf', 'procfs']))).toBe(7)
    expect(times(await lines(path))).toEqual(['h', 'p0', 'p100', 'p150', 'p200', 'p250', 'p300'])
    expect((await lines(path)).map((r) => r.kind)).toEqual([
      'header',
      'proc',
      'proc',
      'perf',
      'proc',
      'perf',
      'proc',
    ])
  })

  it('holds a perf interval until the ticks have passed its time: a tick taken before it but scanned after still goes first', async () => {
    const path = join(dir, 'race.jsonl')
    const file = new SamplesFile(path, header([]), 50)
    file.addTick([proc(700), cgroup(700)])
    file.addPerf(perf(705))
    // The 748 ms tick took its time, then scanned /proc while perf's 755 ms interval came in.
    file.addPerf(perf(755))
    expect(times(await lines(path))).toEqual(['h', 'p700', 'c700'])
    file.addTick([proc(748), cgroup(748)])
    expect(times(await lines(path))).toEqual(['h', 'p700', 'c700', 'p705', 'p748', 'c748'])
    file.addTick([cgroup(760)])
    file.addPerf(perf(760))
    await file.finish(header(['perf', 'procfs', 'cgroup']))
    const records = await lines(path)
    expect(times(records)).toEqual([
      'h',
      'p700',
      'c700',
      'p705',
      'p748',
      'c748',
      'p755',
      'c760',
      'p760',
    ])
    // At equal times the perf interval (covering up to its end) follows the tick.
    expect(records.at(-1)?.kind).toBe('perf')
  })

  it('writes what a stalled perf reports late, after the ticks it no longer held back', async () => {
    const path = join(dir, 'late.jsonl')
    const file = new SamplesFile(path, header([]), 100)
    for (let t = 0; t <= 3100; t += 100) file.addTick([proc(t)])
    file.addPerf(perf(50))
    await file.finish(header(['perf', 'procfs']))
    const records = await lines(path)
    expect(records.filter((r) => r.kind === 'perf')).toHaveLength(1)
    expect(records).toHaveLength(34)
  })

  it('stops waiting for a perf that has gone quiet', async () => {
    const path = join(dir, 'stalled.jsonl')
    const file = new SamplesFile(path, header([]), 100)
    for (let t = 0; t < 3000; t += 100) file.addTick([proc(t)])
    expect(times(await lines(path))).toEqual(['h'])
    // Each tick waits 3 s (at least 3 intervals) for perf, then is written anyway.
    file.addTick([proc(3000)])
    file.addTick([proc(3100)])
    expect(times(await lines(path))).toEqual(['h', 'p0', 'p100'])
    await file.finish(header(['procfs']))
  })

  it('rewrites the header of a large file without reading it into memory, and leaves no temporary file', async () => {
    const path = join(dir, 'large.jsonl')
    const file = new SamplesFile(path, header([]), null)
    const n = 200_000
    for (let t = 0; t < n; t += 2) file.addTick([proc(t), cgroup(t)])
    expect(await file.finish(header(['procfs', 'cgroup']))).toBe(n + 1)
    const text = await readFile(path, 'utf8')
    const all = text.split('\n').filter(Boolean)
    expect(all).toHaveLength(n + 1)
    expect(JSON.parse(all[0]!)).toEqual(header(['procfs', 'cgroup']))
    expect(JSON.parse(all[n]!)).toEqual(cgroup(n - 2))
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })
})

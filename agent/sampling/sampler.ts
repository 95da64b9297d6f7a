import { closeSync, fsync, fsyncSync, openSync, writeSync } from 'node:fs'
import { type CgroupPaths, readCgroup } from './cgroup.ts'
import { type PerfReading, summarizePerf } from './perf-csv.ts'
import { sampleTree } from './procfs.ts'
import { perfRecords, SAMPLES_FORMAT, type SampleRecord, toJsonLines } from './samples.ts'

/** How often the live samples file is forced to disk. */
const SYNC_EVERY_MS = 5000

/** Which source the headline CPU figure came from. */
export type SamplingSource = 'perf' | 'procfs' | 'cgroup'

/** What one run's sampling amounts to. */
export interface SamplingSummary {
  /** Source of `cpuMs`: the job cgroup if there was one, else perf task-clock, else procfs. */
  source: SamplingSource
  /** Every source that produced records. */
  sources: SamplingSource[]
  intervalMs: number
  /** CPU time of the whole process tree, in milliseconds. */
  cpuMs: number
  /** Highest summed RSS seen by procfs, in bytes. */
  peakRssBytes: number
  /** Peak memory charged to the job cgroup (includes page cache), in bytes; null without one. */
  cgroupPeakMemoryBytes: number | null
  /** Events perf was asked for. */
  perfEvents: string[]
  /** Events perf reported `<not supported>`. */
  notSupported: string[]
  /** Per-event perf totals (task-clock in ms, counts otherwise). */
  perfTotals: Record<string, number>
  /** Number of records in the samples file. */
  records: number
}

/** Live figures handed to listeners (the metrics endpoint) on every tick. */
export interface LiveSample {
  cpuMs: number
  rssBytes: number
  processes: number
  perf: Record<string, number>
}

/** Samples one job's process tree over procfs and its cgroup on a timer, and collects perf readings. */
export class Sampler {
  readonly records: SampleRecord[] = []
  private readonly perfReadings: PerfReading[] = []
  private timer: NodeJS.Timeout | undefined
  private startedAt = 0
  private peakRss = 0
  private lastProcCpu = 0
  private lastCgroup: { cpuMs: number | null; peak: number | null } = { cpuMs: null, peak: null }
  private readonly perfTotals: Record<string, number> = {}
  private ticking = false
  private fd: number | undefined
  private perfWritten = 0
  private lastSync = 0
  /** The fsync in flight on the thread pool, if any. */
  private syncing: Promise<void> | null = null

  constructor(
    private readonly options: {
      rootPid: number
      intervalMs: number
      cgroup: CgroupPaths | null
      perfEvents: readonly string[]
      clockTicks?: number
      onSample?: (s: LiveSample) => void
      /**
       * Appended to while the job runs (header first, then records as they come, fsynced every
       * few seconds), so an agent killed mid-job leaves the samples taken so far.
       */
      samplesFile?: string
    },
  ) {}

  /** Starts the timer; call right when the job is let run. */
  start(): void {
    this.startedAt = performance.now()
    if (this.options.samplesFile) {
      this.fd = openSync(this.options.samplesFile, 'w')
      this.append([this.header([])])
    }
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs)
    void this.tick()
  }

  /** Records one perf reading (called from the perf stream). */
  addPerf(r: PerfReading): void {
    this.perfReadings.push(r)
    if (r.value !== null) this.perfTotals[r.event] = (this.perfTotals[r.event] ?? 0) + r.value
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.startedAt)
  }

  private async tick(): Promise<void> {
    // A slow /proc scan must not pile up ticks behind it.
    if (this.ticking) return
    this.ticking = true
    try {
      const t = this.elapsed()
      const proc = await sampleTree(this.options.rootPid, {
        clockTicks: this.options.clockTicks ?? 100,
      })
      if (proc) {
        this.records.push({ kind: 'proc', t, ...proc })
        this.append([this.records[this.records.length - 1]!])
        this.peakRss = Math.max(this.peakRss, proc.rssBytes)
        this.lastProcCpu = Math.max(this.lastProcCpu, proc.cpuMs)
      }
      await this.sampleCgroup(t)
      this.options.onSample?.({
        cpuMs: this.lastCgroup.cpuMs ?? this.lastProcCpu,
        rssBytes: proc?.rssBytes ?? 0,
        processes: proc?.processes ?? 0,
        perf: { ...this.perfTotals },
      })
      this.appendPerf(false)
    } finally {
      this.ticking = false
    }
  }

  private async sampleCgroup(t: number): Promise<void> {
    if (!this.options.cgroup) return
    const cg = await readCgroup(this.options.cgroup)
    this.records.push({ kind: 'cgroup', t, ...cg })
    this.append([this.records[this.records.length - 1]!])
    this.lastCgroup = { cpuMs: cg.cpuMs, peak: cg.peakMemoryBytes }
  }

  private header(sources: SamplingSource[], notSupported: string[] = []): SampleRecord {
    return {
      kind: 'header',
      format: SAMPLES_FORMAT,
      intervalMs: this.options.intervalMs,
      sources,
      perfEvents: [...this.options.perfEvents],
      notSupported,
    }
  }

  /** Appends records to the live samples file; fsyncs at most every few seconds. */
  private append(records: readonly SampleRecord[]): void {
    if (this.fd === undefined || records.length === 0) return
    writeSync(this.fd, toJsonLines(records))
    const now = performance.now()
    if (now - this.lastSync > SYNC_EVERY_MS && !this.syncing) {
      // On the thread pool: a sync fsync blocks the tick for as long as the disk takes.
      this.lastSync = now
      const fd = this.fd
      this.syncing = new Promise<void>((resolve) => fsync(fd, () => resolve())).finally(() => {
        this.syncing = null
      })
    }
  }

  /** Appends the perf intervals complete so far (all but the latest, which may still be arriving). */
  private appendPerf(all: boolean): void {
    const pending = this.perfReadings.slice(this.perfWritten)
    if (pending.length === 0) return
    const lastT = pending[pending.length - 1]!.t
    const ready = all ? pending : pending.filter((r) => r.t !== lastT)
    this.perfWritten += ready.length
    this.append(perfRecords(ready))
  }

  /** Stops the timer, takes a last cgroup reading (it outlives the processes) and summarises. */
  async stop(): Promise<{ records: SampleRecord[]; summary: SamplingSummary }> {
    clearInterval(this.timer)
    while (this.ticking) await new Promise((r) => setTimeout(r, 5))
    await this.sampleCgroup(this.elapsed())
    this.appendPerf(true)
    if (this.fd !== undefined) {
      await this.syncing
      fsyncSync(this.fd)
      closeSync(this.fd)
      this.fd = undefined
    }
    const perf = summarizePerf(this.perfReadings)
    const sources: SamplingSource[] = []
    if (this.perfReadings.length > 0) sources.push('perf')
    if (this.records.some((r) => r.kind === 'proc')) sources.push('procfs')
    if (this.options.cgroup) sources.push('cgroup')
    let source: SamplingSource = 'procfs'
    let cpuMs = this.lastProcCpu
    if (this.lastCgroup.cpuMs !== null) {
      source = 'cgroup'
      cpuMs = this.lastCgroup.cpuMs
    } else if (perf.totals['task-clock'] !== undefined) {
      source = 'perf'
      cpuMs = perf.totals['task-clock']
    }
    const header = this.header(sources, perf.notSupported)
    const records = [header, ...this.records, ...perfRecords(this.perfReadings)].sort((a, b) =>
      a.kind === 'header' ? -1 : b.kind === 'header' ? 1 : a.t - b.t,
    )
    return {
      records,
      summary: {
        source,
        sources,
        intervalMs: this.options.intervalMs,
        cpuMs,
        peakRssBytes: this.peakRss,
        cgroupPeakMemoryBytes: this.lastCgroup.peak,
        perfEvents: [...this.options.perfEvents],
        notSupported: perf.notSupported,
        perfTotals: perf.totals,
        records: records.length,
      },
    }
  }
}

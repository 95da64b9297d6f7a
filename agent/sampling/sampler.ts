import { type CgroupPaths, readCgroup } from './cgroup.ts'
import { type PerfReading, PerfTally } from './perf-csv.ts'
import { sampleTree } from './procfs.ts'
import { PseudoFiles } from './pseudo-files.ts'
import { perfRecords, SAMPLES_FORMAT, type SampleRecord, type SamplesHeader } from './samples.ts'
import { SamplesFile } from './samples-file.ts'

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

/**
 * Samples one job's process tree over procfs and its cgroup on a timer, and takes perf's readings.
 * Records stream to the samples file as they come; the sampler itself keeps only running figures.
 */
export class Sampler {
  private readonly files = new PseudoFiles()
  private readonly perf = new PerfTally()
  /** Readings of the perf interval still arriving (perf prints one line per event). */
  private perfInterval: PerfReading[] = []
  private perfSeen = false
  private procSeen = false
  private file: SamplesFile | undefined
  private timer: NodeJS.Timeout | undefined
  private startedAt = 0
  private peakRss = 0
  private lastProcCpu = 0
  private lastCgroup: { cpuMs: number | null; peak: number | null } = { cpuMs: null, peak: null }
  private ticking: Promise<void> | null = null

  constructor(
    private readonly options: {
      rootPid: number
      intervalMs: number
      cgroup: CgroupPaths | null
      /** Events perf was asked for (none without perf). */
      perfEvents: readonly string[]
      /** Of those, the ones known beforehand to be `<not supported>` here (not attached). */
      perfNotSupported?: readonly string[]
      clockTicks?: number
      onSample?: (s: LiveSample) => void
      /** `samples.jsonl`: written as the job runs (see SamplesFile). */
      samplesFile: string
    },
  ) {}

  /** Starts the timer; call right when the job is let run. */
  start(): void {
    this.startedAt = performance.now()
    this.file = new SamplesFile(
      this.options.samplesFile,
      // Known from the probe before the job runs, so a file left by a killed agent says so too.
      this.header([], [...(this.options.perfNotSupported ?? [])].sort()),
      this.options.perfEvents.length > 0 ? this.options.intervalMs : null,
    )
    this.timer = setInterval(() => this.tick(), this.options.intervalMs)
    this.tick()
  }

  /** Takes one perf reading (called from the perf stream); an interval is written once complete. */
  addPerf(r: PerfReading): void {
    this.perf.add(r)
    this.perfSeen = true
    if (this.perfInterval.length > 0 && this.perfInterval[0]!.t !== r.t) this.closePerfInterval()
    this.perfInterval.push(r)
  }

  private closePerfInterval(): void {
    for (const rec of perfRecords(this.perfInterval)) this.file?.addPerf(rec)
    this.perfInterval = []
  }

  private elapsed(): number {
    return Math.round(performance.now() - this.startedAt)
  }

  private tick(): void {
    // A slow /proc scan must not pile up ticks behind it.
    if (this.ticking) return
    this.ticking = this.sample().finally(() => {
      this.ticking = null
    })
  }

  private async sample(): Promise<void> {
    const t = this.elapsed()
    const records: SampleRecord[] = []
    const proc = await sampleTree(this.options.rootPid, {
      clockTicks: this.options.clockTicks ?? 100,
      files: this.files,
    })
    if (proc) {
      records.push({ kind: 'proc', t, ...proc })
      this.procSeen = true
      this.peakRss = Math.max(this.peakRss, proc.rssBytes)
      this.lastProcCpu = Math.max(this.lastProcCpu, proc.cpuMs)
    }
    const cg = this.sampleCgroup(t)
    if (cg) records.push(cg)
    // Descriptors of processes that left the tree are closed here.
    this.files.sweep()
    this.file?.addTick(records)
    this.options.onSample?.({
      cpuMs: this.lastCgroup.cpuMs ?? this.lastProcCpu,
      rssBytes: proc?.rssBytes ?? 0,
      processes: proc?.processes ?? 0,
      perf: this.perf.totals(),
    })
  }

  private sampleCgroup(t: number): SampleRecord | null {
    if (!this.options.cgroup) return null
    const cg = readCgroup(this.options.cgroup, this.files)
    this.lastCgroup = { cpuMs: cg.cpuMs, peak: cg.peakMemoryBytes }
    return { kind: 'cgroup', t, ...cg }
  }

  private header(sources: SamplingSource[], notSupported: string[] = []): SamplesHeader {
    return {
      kind: 'header',
      format: SAMPLES_FORMAT,
      intervalMs: this.options.intervalMs,
      sources,
      perfEvents: [...this.options.perfEvents],
      notSupported,
    }
  }

  /**
   * Stops the timer, takes a last cgroup reading (it outlives the processes), finishes the samples
   * file and summarises.
   */
  async stop(): Promise<SamplingSummary> {
    clearInterval(this.timer)
    await this.ticking
    const file = this.file
    if (!file) throw new Error('Sampler.stop() before start()')
    const last = this.sampleCgroup(this.elapsed())
    if (last) file.addTick([last])
    this.closePerfInterval()
    this.files.close()
    const perf = this.perf.summary()
    const notSupported = [
      ...new Set([...(this.options.perfNotSupported ?? []), ...perf.notSupported]),
    ].sort()
    const sources: SamplingSource[] = []
    if (this.perfSeen) sources.push('perf')
    if (this.procSeen) sources.push('procfs')
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
    const records = await file.finish(this.header(sources, notSupported))
    return {
      source,
      sources,
      intervalMs: this.options.intervalMs,
      cpuMs,
      peakRssBytes: this.peakRss,
      cgroupPeakMemoryBytes: this.lastCgroup.peak,
      perfEvents: [...this.options.perfEvents],
      notSupported,
      perfTotals: perf.totals,
      records,
    }
  }
}

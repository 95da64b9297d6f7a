import { closeSync, createReadStream, fsync, fsyncSync, openSync, writeSync } from 'node:fs'
import { writeDurable } from '../spool/spool.ts'
import { type SampleRecord, type SamplesHeader, toJsonLines } from './samples.ts'

/** How often the live file is forced to disk. */
const SYNC_EVERY_MS = 5000
/** How long tick records wait at least for the perf interval that covers them. */
const MIN_PERF_WAIT_MS = 3000

/**
 * `samples.jsonl` as it grows: written while the job runs, so an agent killed mid-job leaves every
 * sample taken so far (fsynced every few seconds), and nothing is kept in memory, so a job of hours
 * costs the agent no more RAM than one of seconds.
 *
 * Records go out in time order: the file is a merge of two streams, each in order by itself, that
 * arrive out of step. perf reports an interval only once it is over; a tick's time is taken before
 * its /proc scan, so a perf interval of a later time can arrive while the scan is still running.
 * So neither is written until the other stream has passed its time: both wait (briefly, in
 * memory) and go out together. A perf that stalls for more than a few seconds stops holding the
 * ticks back; what it reports after that is still written (a count is never dropped), after them.
 *
 * The header comes first but is only known in full at the end (which sources produced records,
 * which events perf could not count): `finish` writes the final header and copies the body behind
 * it, streamed, into a new file that replaces the live one atomically.
 */
export class SamplesFile {
  private readonly fd: number
  private readonly headerBytes: number
  /** Records of both streams not written yet, in time order (ticks before perf at equal times). */
  private pending: SampleRecord[] = []
  /** The newest time each stream has reached. */
  private tickHigh = Number.NEGATIVE_INFINITY
  private perfHigh = Number.NEGATIVE_INFINITY
  private count = 0
  private lastSync = performance.now()
  /** The fsync in flight on the thread pool, if any. */
  private syncing: Promise<void> | null = null

  /** How long tick records wait for perf; null when no perf records will come. */
  private readonly perfWaitMs: number | null

  /** @param perfIntervalMs perf's interval when perf records will come (tick records wait for them). */
  constructor(
    readonly path: string,
    header: SamplesHeader,
    perfIntervalMs: number | null,
  ) {
    this.perfWaitMs =
      perfIntervalMs === null ? null : Math.max(MIN_PERF_WAIT_MS, 3 * perfIntervalMs)
    this.fd = openSync(path, 'w')
    const line = toJsonLines([header])
    this.headerBytes = Buffer.byteLength(line)
    writeSync(this.fd, line)
  }

  /** Records of one sampler tick (procfs, cgroup), in time order. */
  addTick(records: readonly SampleRecord[]): void {
    if (this.perfWaitMs === null) {
      this.write(records)
      return
    }
    for (const r of records) {
      if (r.kind === 'header') continue
      this.insert(r, false)
      this.tickHigh = Math.max(this.tickHigh, r.t)
    }
    // A perf gone quiet holds the ticks back for perfWaitMs at most.
    this.flush(Math.max(Math.min(this.tickHigh, this.perfHigh), this.tickHigh - this.perfWaitMs))
  }

  /** One complete perf interval: written once the ticks have passed its time too. */
  addPerf(record: Extract<SampleRecord, { kind: 'perf' }>): void {
    this.insert(record, true)
    this.perfHigh = Math.max(this.perfHigh, record.t)
    this.flush(Math.min(this.tickHigh, this.perfHigh))
  }

  /** Records written so far, header included. */
  get records(): number {
    return this.count + 1
  }

  /**
   * Writes what is still pending, closes the live file, and replaces it with one that starts with
   * `header`. Returns the number of records in the file, header included.
   */
  async finish(header: SamplesHeader): Promise<number> {
    this.write(this.pending)
    this.pending = []
    await this.syncing
    fsyncSync(this.fd)
    closeSync(this.fd)
    const body = createReadStream(this.path, { start: this.headerBytes })
    await writeDurable(this.path, prepend(toJsonLines([header]), body))
    return this.records
  }

  /**
   * Places a record among the pending ones by time; at equal times a perf interval (which covers
   * the time up to its end) goes after the ticks, and each stream keeps its own order.
   */
  private insert(record: Exclude<SampleRecord, { kind: 'header' }>, isPerf: boolean): void {
    let i = this.pending.length
    while (i > 0) {
      const before = this.pending[i - 1] as Exclude<SampleRecord, { kind: 'header' }>
      if (before.t < record.t || (before.t === record.t && (isPerf || before.kind !== 'perf')))
        break
      i--
    }
    this.pending.splice(i, 0, record)
  }

  /** Writes the pending records at or before `t`, in one write. */
  private flush(t: number): void {
    let n = 0
    while (n < this.pending.length) {
      const r = this.pending[n]!
      if (r.kind !== 'header' && r.t > t) break
      n++
    }
    if (n > 0) this.write(this.pending.splice(0, n))
  }

  private write(records: readonly SampleRecord[]): void {
    if (records.length === 0) return
    writeSync(this.fd, toJsonLines(records))
    this.count += records.length
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
}

async function* prepend(first: string, rest: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  yield Buffer.from(first)
  yield* rest
}

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
 * Records go out in time order. perf reports an interval only once it is over, so the sampler's
 * own tick records wait (briefly, in memory) until perf has passed their time, then both are
 * written in one write. A perf that stalls for more than a few seconds stops holding them back.
 *
 * The header comes first but is only known in full at the end (which sources produced records,
 * which events perf could not count): `finish` writes the final header and copies the body behind
 * it, streamed, into a new file that replaces the live one atomically.
 */
export class SamplesFile {
  private readonly fd: number
  private readonly headerBytes: number
  private pending: SampleRecord[] = []
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
    this.pending.push(...records)
    const newest = this.pending[this.pending.length - 1]
    if (!newest || newest.kind === 'header') return
    const overdue = this.takePending(newest.t - this.perfWaitMs)
    this.write(overdue)
  }

  /** One complete perf interval: written after the tick records up to its time. */
  addPerf(record: Extract<SampleRecord, { kind: 'perf' }>): void {
    this.write([...this.takePending(record.t), record])
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

  /** Removes and returns the pending records at or before `t`. */
  private takePending(t: number): SampleRecord[] {
    let n = 0
    while (n < this.pending.length) {
      const r = this.pending[n]!
      if (r.kind !== 'header' && r.t > t) break
      n++
    }
    return n === 0 ? [] : this.pending.splice(0, n)
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

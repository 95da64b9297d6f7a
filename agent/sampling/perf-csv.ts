/** How perf reported one event in one interval. */
export type PerfStatus = 'counted' | 'not-counted' | 'not-supported'

/** One line of `perf stat -x<sep> -I <ms>` output. */
export interface PerfReading {
  /** Seconds since perf started counting. */
  t: number
  /** Event name as perf prints it (e.g. `task-clock`, `cycles`). */
  event: string
  /** Counter value in `unit`; null when not counted or not supported. */
  value: number | null
  /** Unit perf prints (`msec` for task-clock, empty for plain counts). */
  unit: string
  /** Whether the kernel counted the event. */
  status: PerfStatus
  /** Percentage of the interval the counter was running (multiplexing). */
  percentRunning: number | null
}

/** The separator the agent passes to `perf stat -x`: commas appear inside perf's metric text. */
export const PERF_SEPARATOR = ';'

/** Parses one CSV line of `perf stat -I` output; null for comments, blank and foreign lines. */
export function parsePerfLine(line: string, sep: string = PERF_SEPARATOR): PerfReading | null {
  const trimmed = line.trim()
  if (trimmed === '' || trimmed.startsWith('#')) return null
  const fields = trimmed.split(sep)
  if (fields.length < 4) return null
  const [tText, valueText, unit, event, , pctText] = fields as [
    string,
    string,
    string,
    string,
    ...string[],
  ]
  const t = Number(tText)
  if (!Number.isFinite(t) || event === '') return null
  let status: PerfStatus = 'counted'
  let value: number | null = null
  if (valueText === '<not supported>') status = 'not-supported'
  else if (valueText === '<not counted>') status = 'not-counted'
  else {
    value = Number(valueText)
    if (!Number.isFinite(value)) return null
  }
  const pct = pctText === undefined || pctText === '' ? null : Number(pctText)
  return {
    t,
    event,
    value,
    unit,
    status,
    percentRunning: pct !== null && Number.isFinite(pct) ? pct : null,
  }
}

/** Parses a whole perf CSV text into readings, skipping lines that are not readings. */
export function parsePerfCsv(text: string, sep: string = PERF_SEPARATOR): PerfReading[] {
  const out: PerfReading[] = []
  for (const line of text.split('\n')) {
    const r = parsePerfLine(line, sep)
    if (r) out.push(r)
  }
  return out
}

/** Per-event totals over a run and the events the machine cannot count. */
export interface PerfSummary {
  /** Sum of every counted interval per event (in the event's unit). */
  totals: Record<string, number>
  /** Unit of each event. */
  units: Record<string, string>
  /** Events perf reported as `<not supported>` in every interval. */
  notSupported: string[]
}

/**
 * Running per-event totals: a long job's readings (one per event per interval) are tallied as they
 * arrive instead of kept. An interval `<not counted>` means the job did not run in it.
 */
export class PerfTally {
  private readonly sums: Record<string, number> = {}
  private readonly units: Record<string, string> = {}
  private readonly supported = new Set<string>()
  private readonly seen = new Set<string>()

  add(r: PerfReading): void {
    this.seen.add(r.event)
    this.units[r.event] = r.unit
    if (r.status === 'not-supported') return
    this.supported.add(r.event)
    this.sums[r.event] = (this.sums[r.event] ?? 0) + (r.value ?? 0)
  }

  /** Totals so far, per event (a copy). */
  totals(): Record<string, number> {
    return { ...this.sums }
  }

  summary(): PerfSummary {
    const notSupported = [...this.seen].filter((e) => !this.supported.has(e)).sort()
    return { totals: this.totals(), units: { ...this.units }, notSupported }
  }
}

/** Sums interval readings per event (see PerfTally). */
export function summarizePerf(readings: readonly PerfReading[]): PerfSummary {
  const tally = new PerfTally()
  for (const r of readings) tally.add(r)
  return tally.summary()
}

import type { PerfReading } from './perf-csv.ts'

/** Version tag of the samples file; bump when a record changes shape. */
export const SAMPLES_FORMAT = 'zkrunner-samples/1'

/**
 * `samples.jsonl` is JSON Lines: a header record, then records in time order (one exception: an
 * interval a stalled perf reports more than a few seconds late follows the ticks already written).
 * - `{ kind: 'header', format, intervalMs, sources, perfEvents, notSupported }`
 * - `{ kind: 'proc', t, processes, cpuMs, rssBytes, hwmBytes }` (procfs, summed over the tree)
 * - `{ kind: 'cgroup', t, cpuMs, memoryBytes, peakMemoryBytes }` (the job's cgroup)
 * - `{ kind: 'perf', t, values: { event: number|null }, status: { event: 'counted'|... } }` (one perf interval)
 * `t` is milliseconds since the job was let run; CPU and memory figures are cumulative or current, as named.
 */
export type SampleRecord =
  | {
      kind: 'header'
      format: typeof SAMPLES_FORMAT
      intervalMs: number
      sources: string[]
      perfEvents: string[]
      notSupported: string[]
    }
  | {
      kind: 'proc'
      t: number
      processes: number
      cpuMs: number
      rssBytes: number
      hwmBytes: number
    }
  | {
      kind: 'cgroup'
      t: number
      cpuMs: number | null
      memoryBytes: number | null
      peakMemoryBytes: number | null
    }
  | {
      kind: 'perf'
      t: number
      values: Record<string, number | null>
      status: Record<string, PerfReading['status']>
    }

/** The first record of a samples file. */
export type SamplesHeader = Extract<SampleRecord, { kind: 'header' }>

/** Groups perf readings that share an interval timestamp into `perf` records. */
export function perfRecords(
  readings: readonly PerfReading[],
): Extract<SampleRecord, { kind: 'perf' }>[] {
  const byT = new Map<number, Extract<SampleRecord, { kind: 'perf' }>>()
  for (const r of readings) {
    let rec = byT.get(r.t)
    if (!rec) {
      rec = { kind: 'perf', t: Math.round(r.t * 1000), values: {}, status: {} }
      byT.set(r.t, rec)
    }
    rec.values[r.event] = r.value
    rec.status[r.event] = r.status
  }
  return [...byT.values()]
}

/** Serialises records as JSON Lines. */
export function toJsonLines(records: readonly SampleRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('')
}

/** Parses JSON Lines back into records (for verifiers and plots). */
export function parseJsonLines(text: string): SampleRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SampleRecord)
}

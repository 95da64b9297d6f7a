/** CPU and memory series for the plot, on a common time axis in seconds. */
export interface SampleSeries {
  /** Seconds since the job was let run. */
  t: number[]
  /** CPU use in cores over each interval (1 = one core busy). */
  cpu: (number | null)[]
  /** Resident memory in MiB. */
  memMiB: (number | null)[]
  source: string
}

interface Row {
  kind?: unknown
  t?: unknown
  cpuMs?: unknown
  rssBytes?: unknown
  memoryBytes?: unknown
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/**
 * Turns the agent's `zkrunner-samples/1` JSON lines into plot series. CPU figures there are
 * cumulative milliseconds, so utilisation is their slope; procfs records are preferred, cgroup
 * records are the fallback. Unknown record kinds are skipped: the format may grow.
 */
export function parseSamples(text: string): SampleSeries {
  const rows: Row[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      rows.push(JSON.parse(line) as Row)
    } catch {
      // A truncated last line (job killed mid-write) must not hide the rest.
    }
  }
  const kind = rows.some((r) => r.kind === 'proc') ? 'proc' : 'cgroup'
  const picked = rows.filter((r) => r.kind === kind && num(r.t) !== null)
  const out: SampleSeries = { t: [], cpu: [], memMiB: [], source: kind }
  let prev: { t: number; cpuMs: number } | null = null
  for (const r of picked) {
    const t = num(r.t)!
    const cpuMs = num(r.cpuMs)
    const mem = num(kind === 'proc' ? r.rssBytes : r.memoryBytes)
    out.t.push(t / 1000)
    out.cpu.push(
      prev && cpuMs !== null && t > prev.t
        ? Math.max(0, (cpuMs - prev.cpuMs) / (t - prev.t))
        : null,
    )
    out.memMiB.push(mem === null ? null : mem / (1024 * 1024))
    if (cpuMs !== null) prev = { t, cpuMs }
  }
  return out
}

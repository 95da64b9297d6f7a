import { readdirSync, readFileSync } from 'node:fs'

// How both Worker benchmarks read the CPU workerd spends and summarise latencies: from /proc,
// because workerd's clocks stand still while a request computes (the Worker cannot time itself).

interface ProcEntry {
  name: string
  parent: number
  /** utime + stime in seconds. */
  seconds: number
}

function processes(): Map<number, ProcEntry> {
  const ticks = 100 // USER_HZ on Linux
  const all = new Map<number, ProcEntry>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      all.set(Number(entry), {
        name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        parent: Number(fields[1]),
        seconds: (Number(fields[11]) + Number(fields[12])) / ticks,
      })
    } catch {
      // the process ended while we looked
    }
  }
  return all
}

const below = (all: Map<number, ProcEntry>, pid: number, root: number): boolean => {
  for (let p: number | undefined = pid; p !== undefined && p > 1; p = all.get(p)?.parent) {
    if (p === root) return true
  }
  return false
}

/** CPU seconds of a process tree (root included), split into workerd processes and the rest. */
export function treeCpuSeconds(root: number): { workerd: number; other: number } {
  const total = { workerd: 0, other: 0 }
  const all = processes()
  for (const [pid, p] of all) {
    if (below(all, pid, root))
      total[p.name.startsWith('workerd') ? 'workerd' : 'other'] += p.seconds
  }
  return total
}

/** Pids of the workerd processes below this one. */
export function workerdPids(): number[] {
  const all = processes()
  return [...all]
    .filter(([pid, p]) => p.name.startsWith('workerd') && pid !== process.pid)
    .filter(([pid]) => below(all, all.get(pid)!.parent, process.pid))
    .map(([pid]) => pid)
}

/** CPU nanoseconds all threads of these processes have run (schedstat: finer than ticks). */
export function cpuNs(pids: readonly number[]): number {
  let total = 0
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      } catch {
        // the thread ended
      }
    }
  }
  return total
}

/** The p-th percentile of ascending samples. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

/** Ascending copy of samples. */
export const ascending = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b)

/** Median of samples in any order. */
export const median = (xs: readonly number[]): number => percentile(ascending(xs), 50)

/** Rounded to d decimals, as a number. */
export const fixed = (n: number, d = 2): number => Number(n.toFixed(d))

/** Outcome of sending requests in lanes, all lanes at once and each lane in order. */
export interface Load {
  ok: number
  errors: number
  seconds: number
  /** Per request, milliseconds, ascending. */
  latencies: number[]
  /** The first few failures (status and the start of the answer), to say what the errors were. */
  failures: string[]
}

/** Sends every lane's requests in order, all lanes at once; a status other than `expected` is an error. */
export async function load(
  lanes: readonly (readonly (() => Promise<Response>)[])[],
  expected: number,
): Promise<Load> {
  const latencies: number[] = []
  let ok = 0
  let errors = 0
  const failures: string[] = []
  const failed = (why: string) => {
    errors++
    if (failures.length < 3) failures.push(why)
  }
  const t0 = performance.now()
  await Promise.all(
    lanes.map(async (lane) => {
      for (const send of lane) {
        const start = performance.now()
        try {
          const res = await send()
          const text = await res.text()
          if (res.status === expected) ok++
          else failed(`HTTP ${res.status} ${text.slice(0, 160)}`)
        } catch (error) {
          failed(error instanceof Error ? error.message : String(error))
        }
        latencies.push(performance.now() - start)
      }
    }),
  )
  return {
    ok,
    errors,
    seconds: (performance.now() - t0) / 1000,
    latencies: ascending(latencies),
    failures,
  }
}

import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises'
import { release } from 'node:os'
import type { Readable, Writable } from 'node:stream'
import { promisify } from 'node:util'
import { PERF_SEPARATOR, type PerfReading, parsePerfLine } from './perf-csv.ts'

const execFileP = promisify(execFile)

/** Events the agent asks perf for; hardware ones are often `<not supported>` on VMs and are kept to say so. */
export const DEFAULT_PERF_EVENTS = [
  'task-clock',
  'context-switches',
  'cpu-migrations',
  'page-faults',
  'major-faults',
  'minor-faults',
  'cycles',
  'instructions',
  'branches',
  'branch-misses',
  'cache-references',
  'cache-misses',
] as const

/** Whether `perf stat` can count this process's children, and why not. */
export interface PerfProbe {
  available: boolean
  reason?: string
  /**
   * Events of the probe this machine reports `<not supported>` (on VMs, usually every hardware
   * counter). The agent does not attach them: perf would print a line per event per interval
   * saying so, for the whole job.
   */
  notSupported?: string[]
}

/**
 * Runs `perf stat -e <events> -- true` to learn whether perf exists, whether the kernel lets us
 * count, and which of the events this machine cannot count.
 */
export async function probePerf(
  perfPath = 'perf',
  events: readonly string[] = ['task-clock'],
): Promise<PerfProbe> {
  const asked = events.includes('task-clock') ? events : ['task-clock', ...events]
  try {
    const { stderr } = await execFileP(
      perfPath,
      ['stat', '-x', PERF_SEPARATOR, '-e', asked.join(','), '--', 'true'],
      {
        timeout: 10_000,
      },
    )
    // Without -I, perf prints the same CSV lines minus the leading timestamp.
    const readings = stderr
      .split('\n')
      .flatMap((l) => parsePerfLine(`0${PERF_SEPARATOR}${l}`) ?? [])
    const ok = readings.some((r) => r.event === 'task-clock' && r.status !== 'not-supported')
    if (!ok) return { available: false, reason: stderr.trim().split('\n')[0] ?? 'no reading' }
    const notSupported = readings
      .filter((r) => r.status === 'not-supported' && events.includes(r.event))
      .map((r) => r.event)
    return { available: true, notSupported }
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string }
    if (err.code === 'ENOENT') return { available: false, reason: 'perf not installed' }
    // perf_event_paranoid or seccomp: perf prints a long advice text; keep its first line.
    return {
      available: false,
      reason: (err.stderr ?? err.message).trim().split('\n')[0] ?? 'perf failed',
    }
  }
}

const probes = new Map<string, Promise<PerfProbe>>()

/** What decides a probe's answer: the kernel, its perf_event_paranoid setting and the events. */
function probeKey(perfPath: string, events: readonly string[]): string {
  let paranoid = '?'
  try {
    paranoid = readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim()
  } catch {
    // No perf_event support at all: the probe will say so.
  }
  return `${perfPath}|${release()}|${paranoid}|${events.join(',')}`
}

/**
 * probePerf, asked once per agent process and remembered in `cacheFile` (keyed by kernel release,
 * perf_event_paranoid and the events) so later agents on the same host skip perf's start-up.
 */
export function cachedProbePerf(
  cacheFile?: string,
  perfPath = 'perf',
  events: readonly string[] = DEFAULT_PERF_EVENTS,
): Promise<PerfProbe> {
  const key = probeKey(perfPath, events)
  let p = probes.get(key)
  if (!p) {
    p = (async () => {
      if (cacheFile) {
        try {
          const saved = JSON.parse(await readFile(cacheFile, 'utf8')) as {
            key?: string
            probe?: PerfProbe
          }
          if (saved.key === key && saved.probe) return saved.probe
        } catch {
          // No cache yet.
        }
      }
      const probe = await probePerf(perfPath, events)
      if (cacheFile)
        await writeFile(cacheFile, JSON.stringify({ key, probe })).catch(() => undefined)
      return probe
    })()
    probes.set(key, p)
  }
  return p
}

/** A `perf stat -I` process attached to a job, streaming parsed readings. */
export interface PerfSession {
  child: ChildProcess
  /** Resolves once perf exits (it does when the target process tree is gone). */
  done: Promise<void>
  /** Stops perf (it prints the last partial interval on SIGINT): call once the job has exited. */
  stop(): void
}

async function perfEventFds(pid: number): Promise<number> {
  try {
    const fds = await readdir(`/proc/${pid}/fd`)
    let n = 0
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      if (link.includes('perf_event')) n++
    }
    return n
  } catch {
    return -1
  }
}

/**
 * Attaches `perf stat` in interval mode to `pid` (children inherit the counters) and resolves once
 * its counters are open and enabled, so the caller can let a stopped job run without losing its
 * first cycles. perf starts disabled (`-D -1`) and is enabled through its control fd: its `ack`
 * is the exact moment it counts. A perf without `--control` falls back to watching its fds.
 */
export async function attachPerf(
  pid: number,
  options: {
    intervalMs: number
    events: readonly string[]
    onReading: (r: PerfReading) => void
    perfPath?: string
  },
): Promise<PerfSession> {
  const session = await spawnPerf(pid, options, true)
  return session ?? ((await spawnPerf(pid, options, false)) as PerfSession)
}

async function spawnPerf(
  pid: number,
  options: Parameters<typeof attachPerf>[1],
  control: boolean,
): Promise<PerfSession | null> {
  const args = [
    'stat',
    '-x',
    PERF_SEPARATOR,
    '-I',
    String(options.intervalMs),
    '-e',
    options.events.join(','),
    ...(control ? ['-D', '-1', '--control', 'fd:3,4'] : []),
    '-p',
    String(pid),
  ]
  const child = spawn(options.perfPath ?? 'perf', args, {
    stdio: ['ignore', 'ignore', 'pipe', ...(control ? (['pipe', 'pipe'] as const) : [])],
  })
  let buffered = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (chunk: string) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      const r = parsePerfLine(line)
      if (r) options.onReading(r)
    }
  })
  const done = new Promise<void>((resolve) => {
    child.on('close', () => {
      const r = parsePerfLine(buffered)
      if (r) options.onReading(r)
      resolve()
    })
    child.on('error', () => resolve())
  })
  const session = { child, done, stop: () => void child.kill('SIGINT') }
  if (control) {
    const ctl = child.stdio[3] as Writable
    const ack = child.stdio[4] as Readable
    ctl.on('error', () => undefined)
    const acked = await new Promise<boolean>((resolve) => {
      ack.once('data', () => resolve(true))
      child.once('exit', () => resolve(false))
      child.once('error', () => resolve(false))
      ctl.write('enable\n')
    })
    // perf exited before acknowledging: an old perf without --control (or no permission).
    return acked ? session : null
  }
  // Ready when the number of open perf_event fds stops growing (unsupported events open none).
  let last = 0
  for (let i = 0; i < 300; i++) {
    await new Promise((r) => setTimeout(r, 10))
    if (child.exitCode !== null) break
    const n = await perfEventFds(child.pid ?? -1)
    if (n > 0 && n === last) break
    last = n
  }
  return session
}

import { spawn } from 'node:child_process'
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs'
import { constants } from 'node:os'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import type { TruncatedLog } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { createJobCgroup, joinCgroup } from '../sampling/cgroup.ts'
import {
  attachPerf,
  cachedProbePerf,
  DEFAULT_PERF_EVENTS,
  type PerfProbe,
} from '../sampling/perf.ts'
import { type LiveSample, Sampler, type SamplingSummary } from '../sampling/sampler.ts'
import { killLeftovers } from './kill-leftovers.ts'

/**
 * The job is started through this fixed shell program (arguments, never interpolated): it joins
 * the job cgroup, stops itself so perf can attach before the first instruction, then execs the
 * command. `exec` of a missing command exits 127, as a shell would.
 */
const LAUNCHER =
  'while [ "$1" != "--" ]; do { echo $$ > "$1"; } 2>/dev/null; shift; done; shift; kill -STOP $$; exec "$@"'

/** How to run one job. */
export interface RunJobOptions {
  command: string
  args: string[]
  /** Directory the captured output and samples are written to. */
  outDir: string
  cwd?: string
  /** The job's whole environment (build it with jobEnvironment: never the agent's own). */
  env: NodeJS.ProcessEnv
  /** Run the job as this user (the agent must be root), so it cannot read the runner key. */
  user?: { uid: number; gid: number }
  intervalMs: number
  /** `auto` uses perf when the probe passes; `off` never. */
  perf: 'auto' | 'off'
  perfEvents?: readonly string[]
  /** Put the job in its own cgroup when the host allows it. */
  cgroup: boolean
  /** Name of the job cgroup (unique per job). */
  cgroupName: string
  /** Where the perf probe's answer is remembered across agent runs (e.g. in the data dir). */
  perfProbeCache?: string
  /**
   * Bytes of each of stdout and stderr kept in its log file; what follows is dropped from the
   * file (still mirrored) and counted in the outcome's `truncatedLogs`. Unbounded when unset.
   */
  maxLogBytes?: number
  /** Where the job's output is mirrored (the agent's own stdout/stderr by default). */
  stdout?: Writable
  stderr?: Writable
  onSample?: (s: LiveSample) => void
  /**
   * Called with the job's pid and its cgroup's directories (none without one) once it runs, so a
   * later `resume` can find what a crashed agent left (tests kill the agent at this point).
   */
  onStart?: (pid: number, cgroupDirs: readonly string[]) => void
}

/** What a finished job left behind. */
export interface RunOutcome {
  /** Exit code, or 128 + signal number when killed by a signal. */
  exitCode: number
  signal: NodeJS.Signals | null
  startedAt: string
  endedAt: string
  wallMs: number
  sampling: SamplingSummary
  /** Why perf was not used, when it was not. */
  perfUnavailable?: string
  /** Processes of the job's cgroup still running after it exited, and killed. */
  leftoversKilled: number
  /** Files written into outDir (samples.jsonl grows while the job runs). */
  files: { stdout: string; stderr: string; samples: string }
  /** The logs cut at maxLogBytes: bytes kept in each file and bytes dropped after them. */
  truncatedLogs: TruncatedLog[]
}

/**
 * Writes a stream's first `cap` bytes to `file` and counts the rest: the job's output is capped
 * where it is captured, so the agent never holds or stores more than the cap of it.
 */
class CappedLog {
  kept = 0
  dropped = 0
  constructor(
    readonly name: TruncatedLog['file'],
    readonly file: WriteStream,
    readonly cap: number,
  ) {}
  write(b: Buffer): void {
    const room = Math.max(0, this.cap - this.kept)
    if (room >= b.length) {
      this.file.write(b)
      this.kept += b.length
      return
    }
    if (room > 0) this.file.write(b.subarray(0, room))
    this.kept += room
    this.dropped += b.length - room
  }
  truncated(): TruncatedLog[] {
    return this.dropped > 0
      ? [{ file: this.name, keptBytes: this.kept, droppedBytes: this.dropped }]
      : []
  }
}

function procState(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3)
  } catch {
    return null
  }
}

function closeStream(s: WriteStream): Promise<void> {
  return new Promise((resolve, reject) =>
    s.end((err?: Error | null) => (err ? reject(err) : resolve())),
  )
}

/** Runs a command under sampling, mirroring and capturing its output; never throws for the job's own failure. */
export async function runJob(opts: RunJobOptions): Promise<RunOutcome> {
  const files = {
    stdout: join(opts.outDir, 'stdout.log'),
    stderr: join(opts.outDir, 'stderr.log'),
    samples: join(opts.outDir, 'samples.jsonl'),
  }
  const outFile = createWriteStream(files.stdout)
  const errFile = createWriteStream(files.stderr)
  const cap = opts.maxLogBytes ?? Number.POSITIVE_INFINITY
  const outLog = new CappedLog('stdout.log', outFile, cap)
  const errLog = new CappedLog('stderr.log', errFile, cap)
  const events = opts.perfEvents ?? DEFAULT_PERF_EVENTS
  const [probe, cg]: [PerfProbe, Awaited<ReturnType<typeof createJobCgroup>>] = await Promise.all([
    opts.perf === 'auto'
      ? cachedProbePerf(opts.perfProbeCache, 'perf', events)
      : { available: false, reason: 'disabled' },
    opts.cgroup ? createJobCgroup(opts.cgroupName) : null,
  ])
  // Events the probe found `<not supported>` are recorded as such but not attached.
  const notSupported = probe.notSupported ?? []
  const counted = events.filter((e) => !notSupported.includes(e))

  const child = spawn(
    '/bin/sh',
    ['-c', LAUNCHER, 'zkrunner-job', ...(cg?.procsFiles ?? []), '--', opts.command, ...opts.args],
    {
      cwd: opts.cwd,
      env: opts.env,
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
      // Its own process group: whatever it leaves running is killed with the group at its end.
      detached: true,
      stdio: ['inherit', 'pipe', 'pipe'],
    },
  )
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on('error', (e) =>
        reject(new AgentError(AgentErrorCode.SPAWN_FAILED, `cannot start /bin/sh: ${e.message}`)),
      )
      child.on('exit', (code, signal) => resolve({ code, signal }))
    },
  )
  const mirrorOut = opts.stdout ?? process.stdout
  const mirrorErr = opts.stderr ?? process.stderr
  child.stdout!.on('data', (b: Buffer) => {
    mirrorOut.write(b)
    outLog.write(b)
  })
  child.stderr!.on('data', (b: Buffer) => {
    mirrorErr.write(b)
    errLog.write(b)
  })
  const streamsDone = Promise.all([
    new Promise((r) => child.stdout!.on('close', r)),
    new Promise((r) => child.stderr!.on('close', r)),
  ])
  const pid = child.pid
  if (pid === undefined) {
    await exited
    throw new AgentError(AgentErrorCode.SPAWN_FAILED, 'job process has no pid')
  }
  const sampler = new Sampler({
    rootPid: pid,
    intervalMs: opts.intervalMs,
    cgroup: cg?.paths ?? null,
    perfEvents: probe.available ? events : [],
    perfNotSupported: probe.available ? notSupported : [],
    onSample: opts.onSample,
    samplesFile: files.samples,
  })
  // perf starts while the launcher joins the cgroup and stops itself: their start-ups overlap.
  const perfAttached = probe.available
    ? attachPerf(pid, {
        intervalMs: opts.intervalMs,
        events: counted,
        onReading: (r) => sampler.addPerf(r),
      })
    : undefined
  for (let i = 0; i < 5000; i++) {
    const st = procState(pid)
    if (st === 'T' || st === null || st === 'Z' || child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 1))
  }
  const perf = await perfAttached
  // A job of another user cannot write the root-owned cgroup.procs itself: the agent moves it
  // while it is stopped, before its first instruction (its children inherit the cgroup).
  if (opts.user && cg && procState(pid) === 'T') await joinCgroup(cg, pid)

  const started = Date.now()
  const t0 = performance.now()
  sampler.start()
  process.kill(pid, 'SIGCONT')
  opts.onStart?.(pid, cg?.dirs ?? [])
  const { code, signal } = await exited
  const wallMs = Math.round(performance.now() - t0)
  const ended = Date.now()
  // The job has ended: nothing it started may keep running while the agent collects its output
  // and artifacts (a leftover could swap a path for a symlink, or keep the pipes open forever).
  const leftovers = await killLeftovers(pid, cg?.dirs ?? [])
  if (perf) {
    // The tree is gone and its counts are final: SIGINT makes perf print the last partial
    // interval now instead of noticing the exit an interval later.
    perf.stop()
    const timer = setTimeout(() => perf.child.kill('SIGKILL'), 2000)
    await perf.done
    clearTimeout(timer)
  }
  const summary = await sampler.stop()
  await streamsDone
  await Promise.all([closeStream(outFile), closeStream(errFile)])
  await cg?.remove()
  const signum = signal ? (constants.signals[signal] ?? 0) : 0
  return {
    exitCode: code ?? 128 + signum,
    signal,
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(ended).toISOString(),
    wallMs,
    sampling: summary,
    ...(probe.available ? {} : { perfUnavailable: probe.reason ?? 'unavailable' }),
    leftoversKilled: leftovers,
    files,
    truncatedLogs: [...outLog.truncated(), ...errLog.truncated()],
  }
}

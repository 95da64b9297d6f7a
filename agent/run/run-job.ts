import { spawn } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { constants } from 'node:os'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { createJobCgroup } from '../sampling/cgroup.ts'
import { attachPerf, DEFAULT_PERF_EVENTS, type PerfSession, probePerf } from '../sampling/perf.ts'
import { type LiveSample, Sampler, type SamplingSummary } from '../sampling/sampler.ts'
import { toJsonLines } from '../sampling/samples.ts'

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
  env?: NodeJS.ProcessEnv
  intervalMs: number
  /** `auto` uses perf when the probe passes; `off` never. */
  perf: 'auto' | 'off'
  perfEvents?: readonly string[]
  /** Put the job in its own cgroup when the host allows it. */
  cgroup: boolean
  /** Name of the job cgroup (unique per job). */
  cgroupName: string
  /** Where the job's output is mirrored (the agent's own stdout/stderr by default). */
  stdout?: Writable
  stderr?: Writable
  onSample?: (s: LiveSample) => void
  /** Called with the job's pid once it runs (tests kill the agent at this point). */
  onStart?: (pid: number) => void
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
  /** Files written into outDir. */
  files: { stdout: string; stderr: string; samples: string }
}

async function procState(pid: number): Promise<string | null> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8')
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
  const probe = opts.perf === 'auto' ? await probePerf() : { available: false, reason: 'disabled' }
  const cg = opts.cgroup ? await createJobCgroup(opts.cgroupName) : null
  const events = opts.perfEvents ?? DEFAULT_PERF_EVENTS

  const child = spawn(
    '/bin/sh',
    ['-c', LAUNCHER, 'zkrunner-job', ...(cg?.procsFiles ?? []), '--', opts.command, ...opts.args],
    {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
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
    outFile.write(b)
  })
  child.stderr!.on('data', (b: Buffer) => {
    mirrorErr.write(b)
    errFile.write(b)
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
  // Wait for the launcher to stop itself; it may also have died already.
  for (let i = 0; i < 1000; i++) {
    const st = await procState(pid)
    if (st === 'T' || st === null || st === 'Z' || child.exitCode !== null) break
    await new Promise((r) => setTimeout(r, 2))
  }

  const sampler = new Sampler({
    rootPid: pid,
    intervalMs: opts.intervalMs,
    cgroup: cg?.paths ?? null,
    perfEvents: probe.available ? events : [],
    onSample: opts.onSample,
  })
  let perf: PerfSession | undefined
  if (probe.available)
    perf = await attachPerf(pid, {
      intervalMs: opts.intervalMs,
      events,
      onReading: (r) => sampler.addPerf(r),
    })

  const started = Date.now()
  const t0 = performance.now()
  sampler.start()
  process.kill(pid, 'SIGCONT')
  opts.onStart?.(pid)
  const { code, signal } = await exited
  const wallMs = Math.round(performance.now() - t0)
  const ended = Date.now()
  if (perf) {
    // perf -p exits on its own when the target is gone; bound the wait in case it does not.
    const timer = setTimeout(() => perf.stop(), 2000)
    await perf.done
    clearTimeout(timer)
  }
  const { records, summary } = await sampler.stop()
  await streamsDone
  await Promise.all([closeStream(outFile), closeStream(errFile)])
  await writeFile(files.samples, toJsonLines(records))
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
    files,
  }
}

import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Writable } from 'node:stream'
import { checkOutputs } from '../../protocol/index.ts'
import { collectArtifacts } from '../bundle/artifacts.ts'
import { fileCallLedger } from '../call/call-budget.ts'
import type { AgentConfig } from '../config.ts'
import { jobEnvironment } from '../isolation/job-env.ts'
import type { JobUser } from '../isolation/job-user.ts'
import {
  clearOutputs,
  OUTPUTS_FILE_VARIABLE,
  outputsFilePath,
  readOutputs,
} from '../outputs/outputs-file.ts'
import { type RunOutcome, runJob } from '../run/run-job.ts'
import type { LiveSample } from '../sampling/sampler.ts'
import { type JobMeta, type Spool, SUMMARY_FILE } from '../spool/spool.ts'
import { processRef } from './processes.ts'

/** Spools a job, runs it under sampling, collects its artifacts and records the outcome durably. */
export async function startJob(args: {
  spool: Spool
  config: Pick<AgentConfig, 'intervalMs' | 'perf' | 'cgroup'> &
    Partial<Pick<AgentConfig, 'maxLogBytes' | 'maxArtifactBytes'>>
  meta: JobMeta
  /** The job's environment (jobEnvironment); shell basics only when omitted, never the agent's. */
  env?: Record<string, string>
  /** Run the job as this user (the agent must be root). */
  user?: JobUser | null
  /** Where the agent's own lines about the job go (skipped artifacts). */
  log?: (line: string) => void
  stdout?: Writable
  stderr?: Writable
  onSample?: (s: LiveSample) => void
}): Promise<RunOutcome> {
  const { spool, meta } = args
  await spool.create(meta)
  const bundleDir = spool.bundleDir(meta.jobId)
  // A reused build directory may hold an earlier job's outputs: this job's are only its own.
  await clearOutputs(meta.cwd, args.user)
  const outcome = await runJob({
    command: meta.command,
    args: meta.args,
    outDir: bundleDir,
    cwd: meta.cwd,
    env: {
      ...(args.env ?? jobEnvironment({ host: process.env, ci: {} })),
      // Where `zkrunner-agent output` appends, wherever the job's script has cd'ed to.
      [OUTPUTS_FILE_VARIABLE]: outputsFilePath(meta.cwd),
    },
    ...(args.user ? { user: args.user } : {}),
    intervalMs: args.config.intervalMs,
    perf: args.config.perf,
    cgroup: args.config.cgroup,
    cgroupName: `zkrunner-${meta.jobId}`,
    perfProbeCache: join(dirname(spool.root), 'perf-probe.json'),
    ...(args.config.maxLogBytes !== undefined ? { maxLogBytes: args.config.maxLogBytes } : {}),
    stdout: args.stdout,
    stderr: args.stderr,
    onSample: args.onSample,
    // The job's and this agent's identities: `resume` tells a job still watched from an orphan.
    onStart: (pid, cgroupDirs) =>
      void spool.setState(meta.jobId, {
        pid,
        cgroupDirs: [...cgroupDirs],
        pidStartTicks: processRef(pid).startTicks,
        agent: processRef(process.pid),
      }),
  })
  // Read with the job user's rights when it ran as one: the agent (root) reads more than the job.
  const artifacts = await collectArtifacts(
    meta.cwd,
    meta.artifacts,
    bundleDir,
    args.user ?? undefined,
    args.config.maxArtifactBytes,
  )
  for (const s of artifacts.skipped)
    args.log?.(`artifact ${s.path} skipped (${s.reason}): it is not in the bundle`)
  for (const t of outcome.truncatedLogs)
    args.log?.(
      `${t.file} cut at maxLogBytes: ${t.keptBytes} bytes kept, ${t.droppedBytes} dropped (recorded in the signed manifest)`,
    )
  const read = await readOutputs(meta.cwd)
  const outputs =
    meta.outputs?.length || read.present
      ? checkOutputs(meta.outputs ?? [], read.written, read.problems)
      : undefined
  if (outputs && !outputs.valid)
    for (const p of outputs.problems)
      args.log?.(`outputs invalid: ${p} (recorded in the signed manifest)`)
  await writeFile(
    join(spool.jobDir(meta.jobId), SUMMARY_FILE),
    JSON.stringify(outcome.sampling, null, 2),
  )
  // The driver calls the job made and verified (recorded by `zkrunner-agent call` in the ledger).
  const innerJobs = await fileCallLedger(dirname(spool.root)).innerJobs(meta.jobId)
  await spool.setState(meta.jobId, {
    phase: 'ran',
    ...(innerJobs.length ? { innerJobs } : {}),
    ...(artifacts.skipped.length ? { skippedArtifacts: artifacts.skipped } : {}),
    ...(outcome.truncatedLogs.length ? { truncatedLogs: outcome.truncatedLogs } : {}),
    ...(outputs ? { outputs } : {}),
    outcome: {
      exitCode: outcome.signal ? null : outcome.exitCode,
      signal: outcome.signal,
      startedAt: outcome.startedAt,
      endedAt: outcome.endedAt,
      wallMs: outcome.wallMs,
    },
  })
  return outcome
}

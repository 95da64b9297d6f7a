import { existsSync } from 'node:fs'
import { constants } from 'node:os'
import type { Writable } from 'node:stream'
import type { SingleBar } from 'cli-progress'
import type { Helia } from 'helia'
import { isPrivateCommitment } from '../../protocol/index.ts'
import type { AgentConfig } from '../config.ts'
import { AgentError } from '../errors.ts'
import { checkKeyExposure, type Isolation } from '../isolation/job-user.ts'
import { checkKeyPlacement } from '../isolation/key-placement.ts'
import { mkdirPrivate } from '../isolation/private-fs.ts'
import type { JobIdentity } from '../job-identity.ts'
import { loadRunnerKey } from '../keys.ts'
import { type JobMeta, Spool } from '../spool/spool.ts'
import type { AdvanceDeps } from './advance-job.ts'
import { startJob } from './start-job.ts'

/** Large bundles get progress bars; small ones would only flicker. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024

// Helia, the bundle code, prom-client and o1js are imported where they are used: while a job runs
// the agent holds only the sampler, which keeps its memory and start-up small.

/** Progress bars for hashing a large bundle, on the agent's own terminal only. */
export async function progressDeps(): Promise<Pick<AdvanceDeps, 'onHashProgress' | 'onPinBlock'>> {
  const { SingleBar } = await import('cli-progress')
  let bar: SingleBar | undefined
  return {
    onHashProgress: (done, total) => {
      if (total < PROGRESS_MIN_BYTES || !process.stderr.isTTY) return
      if (!bar) {
        bar = new SingleBar({
          format: 'zkrunner: hashing+importing [{bar}] {percentage}% {value}/{total} MiB',
          stream: process.stderr,
        })
        bar.start(Math.ceil(total / 2 ** 20), 0)
      }
      bar.update(Math.floor(done / 2 ** 20))
      if (done >= total) bar.stop()
    },
  }
}

/** Opens the data dir's IPFS node for `fn` and stops it afterwards. */
export async function withNode<T>(
  config: AgentConfig,
  fn: (helia: Helia) => Promise<T>,
): Promise<T> {
  await mkdirPrivate(config.dataDir)
  const { openIpfsNode } = await import('../ipfs/node.ts')
  const helia = await openIpfsNode({ dataDir: config.dataDir, announce: config.announce })
  try {
    return await fn(helia)
  } finally {
    await helia.stop()
  }
}

function exitCodeOf(outcome: { exitCode: number; signal: NodeJS.Signals | null }): number {
  return outcome.signal ? 128 + (constants.signals[outcome.signal] ?? 0) : outcome.exitCode
}

/** One job as a mode hands it to runCommand: who it is for, what it runs, and as whom. */
export interface JobRun {
  meta: JobMeta
  /** The job's whole environment (jobEnvironment). */
  env: Record<string, string>
  isolation: Isolation
  /** Set when the checked-out commit is not the source commitment: the job must not run. */
  mismatch?: JobIdentity['mismatch']
  ranFrom: JobIdentity['ranFrom']
  /** The job's directories the key must not be under (CI_BUILDS_DIR, CI_PROJECT_DIR). */
  jobDirs: (string | undefined)[]
}

/**
 * Where a job's output and the agent's lines about it go: the agent's own stdout/stderr, or (for
 * the signer) the connection of the `run` that asked for the job.
 */
export interface JobIo {
  stdout: Writable
  stderr: Writable
}

/** Runs one job end to end; returns the job's exit code (finishing steps that fail stay spooled). */
export async function runCommand(
  config: AgentConfig,
  job: JobRun,
  io: JobIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const { meta } = job
  const say = (line: string) => io.stderr.write(`zkrunner: ${line}\n`)
  checkKeyPlacement(config, [...job.jobDirs, meta.cwd])
  checkKeyExposure(job.isolation, process.env)
  const runner = await loadRunnerKey(config)
  const spool = new Spool(config.dataDir)
  if (existsSync(spool.jobDir(meta.jobId)))
    throw new AgentError('INVALID_CONFIG', `job ${meta.jobId} is already spooled`)
  await mkdirPrivate(config.dataDir)
  say(job.isolation.note)
  if (job.ranFrom === 'ci-variable')
    say(
      "the build directory is not a git checkout: the commit that ran is only the CI variables' word (CI_COMMIT_SHA, GITHUB_SHA), which job variables can override",
    )
  const served = config.metricsListen
    ? await import('../metrics/metrics.ts').then(async ({ JobMetrics, serveMetrics }) => {
        const metrics = new JobMetrics(meta.jobId)
        return { metrics, server: await serveMetrics(metrics.registry, config.metricsListen) }
      })
    : null
  let code: number
  try {
    if (job.mismatch) {
      // Pinned with the not-run result: a private service's checked-out commit is not named.
      const ran = isPrivateCommitment(job.mismatch.commitment)
        ? "a commit that does not open it with any of the agent's privateSources"
        : job.mismatch.ran
      const message = `source mismatch: the service version commits to ${job.mismatch.commitment} but the CI checked out ${ran}; the job was not run and is not charged (pin the service to a tag)`
      say(message)
      const { spoolNotRun } = await import('./not-run.ts')
      await spoolNotRun(spool, meta, 'source-mismatch', message)
      code = 1
    } else {
      let outcome: Awaited<ReturnType<typeof startJob>>
      try {
        outcome = await startJob({
          spool,
          config,
          meta,
          env: job.env,
          user: job.isolation.user,
          log: say,
          stdout: io.stdout,
          stderr: io.stderr,
          onSample: served?.metrics.update.bind(served.metrics),
        })
      } finally {
        served?.metrics.finish()
      }
      if (outcome.perfUnavailable)
        say(`perf not used (${outcome.perfUnavailable}); sampled from procfs/cgroup`)
      code = exitCodeOf(outcome)
    }
    const { advanceJob } = await import('./advance-job.ts')
    const progress = await progressDeps()
    await withNode(config, async (helia) => {
      try {
        const state = await advanceJob(
          {
            spool,
            helia,
            runner,
            report: { workerUrl: config.workerUrl, attempts: config.reportAttempts },
            onReportConflict: () => served?.metrics.reportConflict(),
            ...progress,
          },
          meta.jobId,
        )
        say(
          state.notCharged
            ? `job ${meta.jobId} not charged (${state.notCharged}: the Worker's result deadline passed before the report); bundle ${state.bundleCid} kept, never settled`
            : `job ${meta.jobId} ${state.phase}: bundle ${state.bundleCid}`,
        )
      } catch (e) {
        const state = await spool.state(meta.jobId)
        if (state.phase !== 'pinned') throw e
        if (state.reportConflict)
          say(
            `ALERT: REPORT_CONFLICT: ${state.reportConflict}; this runner's key signed another result for this job (replay, second run or stolen key): check before settling`,
          )
        // Pinned and signed but the Worker did not acknowledge: `resume` retries; the job's own result stands.
        else say(`${(e as Error).message}; kept in the spool for \`zkrunner-agent resume\``)
      }
    })
    // The bundle's CID on a line of its own, last, on every provider: scripts and logs find it.
    const { bundleCid } = await spool.state(meta.jobId)
    if (bundleCid) io.stdout.write(`${bundleCid}\n`)
  } finally {
    served?.server?.close()
  }
  return code
}

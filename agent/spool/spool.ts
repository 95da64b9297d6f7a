import { randomBytes } from 'node:crypto'
import { open, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type InnerJob,
  type ManifestOutputs,
  type OutputSpec,
  RequestIdSchema,
  type RunMode,
  type SkippedArtifact,
  type TruncatedLog,
} from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { mkdirPrivate, PRIVATE_FILE_MODE } from '../isolation/private-fs.ts'

/** Name of the sampling summary kept in a job's directory until the manifest is built. */
export const SUMMARY_FILE = 'sampling-summary.json'

/** Where a job stands; each phase is durable before the next begins, so `resume` picks up from it. */
export type JobPhase = 'running' | 'ran' | 'signed' | 'pinned' | 'reported' | 'queued' | 'settled'

/** Phases in order, for "at least" comparisons. */
export const PHASES: readonly JobPhase[] = [
  'running',
  'ran',
  'signed',
  'pinned',
  'reported',
  'queued',
  'settled',
]

/** Who the job was for: from the Worker's pipeline variables or the `run` flags. */
export interface JobMeta {
  jobId: string
  service: string
  sourceCommitment: string
  user: string
  /** The request's parameters as the job ran them (absent in jobs spooled before they were kept: none). */
  parameters?: Record<string, string>
  command: string
  args: string[]
  /**
   * How the agent came to run the job (signed in the manifest's `ran` with the command line);
   * absent in jobs spooled before it was kept.
   */
  mode?: RunMode
  /** Declared artifact paths (files or directories, relative to the job's working directory). */
  artifacts: string[]
  cwd: string
  createdAt: string
  /** The user's latest voucher for this service, if the Worker passed it (JSON of protocol Voucher). */
  voucher?: unknown
  /** The service's declared outputs (`ZKRUNNER_OUTPUTS`), which the job's written values are checked against. */
  outputs?: OutputSpec[]
  /** The service versions above this job when it is a driver call (`ZKRUNNER_CALL_PATH`). */
  callPath?: string[]
}

/** The durable state of one spooled job. */
export interface JobState {
  phase: JobPhase
  /** Set once the command finished (or was found interrupted by `resume`). */
  outcome?: {
    exitCode: number | null
    signal: string | null
    startedAt: string
    endedAt: string
    wallMs: number
  }
  /** Declared artifacts left out of the bundle, and why (they go into the manifest). */
  skippedArtifacts?: SkippedArtifact[]
  /** Logs cut at maxLogBytes, and how much of each was dropped (they go into the manifest). */
  truncatedLogs?: TruncatedLog[]
  /** The job's outputs as checked against its declarations (they go into the manifest). */
  outputs?: ManifestOutputs
  /** The driver jobs it called and verified (`zkrunner-agent call --wait`; into the manifest). */
  innerJobs?: InnerJob[]
  /** Set when the job was refused before it ran: its manifest says so and it is never charged. */
  notRun?: 'source-mismatch'
  /** The Worker holds a different result for this job (HTTP 409): an operator must look. */
  reportConflict?: string
  /**
   * The Worker decided the job not charged before its report arrived (protocol's `no-result`: the
   * result deadline passed). Final: it is never reported again, nor claimed in a settlement.
   */
  notCharged?: 'no-result'
  /** Hex SHA-256 of the manifest's canonical JSON. */
  manifestDigest?: string
  signature?: string
  bundleCid?: string
  /** Pid of the job's launcher while it runs, so `resume` can tell a live job from a lost one. */
  pid?: number
  /** Start time of `pid` (clock ticks after boot; null without /proc), so a reused pid is not taken for the job. */
  pidStartTicks?: number | null
  /** The job's cgroup directories, which a crashed agent leaves behind for `resume` to remove. */
  cgroupDirs?: string[]
  /** The agent watching the job while it runs: once it is gone, a job still running is an orphan. */
  agent?: { pid: number; startTicks: number | null }
  /** Settlement transaction that covered this job. */
  settleTx?: string
  /** Leaf index of this job in its user's results tree, once settled. */
  resultIndex?: number
  /** Last failure of a step that `resume` will retry. */
  lastError?: string
  updatedAt: string
}

/**
 * Writes a file so that a crash leaves either the old or the new content, never a torn one. The
 * content may be streamed (an async iterable of chunks). The file is created 0600.
 */
export async function writeDurable(
  path: string,
  data: string | Uint8Array | AsyncIterable<Uint8Array>,
): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  const fh = await open(tmp, 'wx', PRIVATE_FILE_MODE)
  try {
    await writeFile(fh, data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, path)
}

/** The on-disk spool: one directory per job under `<dataDir>/spool`. */
export class Spool {
  readonly root: string
  constructor(dataDir: string) {
    this.root = join(dataDir, 'spool')
  }

  /** Directory of a job; refuses an id that is not a job id (it would be a path). */
  jobDir(jobId: string): string {
    if (!RequestIdSchema.safeParse(jobId).success)
      throw new AgentError(
        AgentErrorCode.UNKNOWN_JOB,
        `not a job id: ${JSON.stringify(jobId).slice(0, 80)}`,
      )
    return join(this.root, jobId)
  }

  /** Directory whose contents become the job's UnixFS bundle. */
  bundleDir(jobId: string): string {
    return join(this.jobDir(jobId), 'bundle')
  }

  /** Creates the job's directory and records its metadata before anything runs. */
  async create(meta: JobMeta): Promise<void> {
    await mkdirPrivate(this.bundleDir(meta.jobId))
    await writeDurable(join(this.jobDir(meta.jobId), 'job.json'), JSON.stringify(meta, null, 2))
    await this.setState(meta.jobId, { phase: 'running' })
  }

  /** Reads a job's metadata. */
  async meta(jobId: string): Promise<JobMeta> {
    return this.readJson<JobMeta>(jobId, 'job.json')
  }

  /** Reads a job's state. */
  async state(jobId: string): Promise<JobState> {
    return this.readJson<JobState>(jobId, 'state.json')
  }

  /** Merges a change into the job's state durably. */
  async setState(jobId: string, change: Partial<JobState>): Promise<JobState> {
    let prev: Partial<JobState> = {}
    try {
      prev = await this.state(jobId)
    } catch {
      // First write.
    }
    const next = { ...prev, ...change, updatedAt: new Date().toISOString() } as JobState
    await writeDurable(join(this.jobDir(jobId), 'state.json'), JSON.stringify(next, null, 2))
    return next
  }

  /** Ids of every spooled job. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.root, { withFileTypes: true }))
        .filter((d) => d.isDirectory() && RequestIdSchema.safeParse(d.name).success)
        .map((d) => d.name)
    } catch {
      return []
    }
  }

  private async readJson<T>(jobId: string, file: string): Promise<T> {
    let text: string
    try {
      text = await readFile(join(this.jobDir(jobId), file), 'utf8')
    } catch {
      throw new AgentError(AgentErrorCode.UNKNOWN_JOB, `no spooled job ${jobId}`)
    }
    try {
      return JSON.parse(text) as T
    } catch {
      throw new AgentError(AgentErrorCode.SPOOL_CORRUPT, `${file} of job ${jobId} is not JSON`)
    }
  }
}

/** True when `phase` is at or past `target`. */
export const reached = (phase: JobPhase, target: JobPhase): boolean =>
  PHASES.indexOf(phase) >= PHASES.indexOf(target)

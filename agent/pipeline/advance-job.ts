import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Helia } from 'helia'
import type { CID } from 'multiformats/cid'
import { type MinaKeyPair, type RunEnd, signResultReport } from '../../protocol/index.ts'
import {
  type BytesProgress,
  pinBundle,
  readSealed,
  SAMPLES_FILE,
  sealBundle,
} from '../bundle/build-bundle.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { type ReportOptions, reportResult } from '../report/report.ts'
import { cgroupProcs, removeCgroupDirs } from '../sampling/cgroup.ts'
import type { SamplingSource, SamplingSummary } from '../sampling/sampler.ts'
import {
  parseJsonLines,
  SAMPLES_FORMAT,
  type SampleRecord,
  toJsonLines,
} from '../sampling/samples.ts'
import { type JobState, reached, type Spool, SUMMARY_FILE } from '../spool/spool.ts'
import { processAlive, processRef, stopProcessTree } from './processes.ts'

/** What advancing a job needs: an open IPFS node, the runner key, and where to report (optional). */
export interface AdvanceDeps {
  spool: Spool
  helia: Pick<Helia, 'blockstore' | 'pins'>
  runner: MinaKeyPair
  /** Omit to stop at `pinned` (e.g. no Worker configured). */
  report?: Omit<ReportOptions, 'signal'>
  onHashProgress?: BytesProgress
  onPinBlock?: (blocks: number) => void
  /** Told when the Worker holds a different result for a job (counted in /metrics, logged). */
  onReportConflict?: (jobId: string, message: string) => void
}

/**
 * Marks a job whose agent died mid-run as interrupted, keeping whatever output was captured.
 * While its agent still watches it (or finishes it), the job is left alone and false returned. A
 * job that outlived its agent is an orphan: nothing reads its output or will see its exit status
 * (its next write to the dead agent's pipe kills it), so it is stopped here rather than left to
 * race `resume`, with whatever else still runs in its cgroup (processes that left its tree stay
 * there), and the cgroup the agent could not remove is removed. Jobs spooled without the agent's
 * identity are left alone while their process lives.
 */
export async function recoverInterrupted(
  spool: Spool,
  jobId: string,
  state: JobState,
): Promise<boolean> {
  if (state.agent && processAlive(state.agent)) return false
  if (state.pid !== undefined) {
    const job = { pid: state.pid, startTicks: state.pidStartTicks ?? null }
    if (!state.agent) {
      if (processAlive(job)) return false
    } else {
      const inCgroup = (state.cgroupDirs ?? []).flatMap(cgroupProcs).map(processRef)
      await stopProcessTree([job, ...inCgroup])
    }
  }
  await removeCgroupDirs(state.cgroupDirs ?? [])
  const bundleDir = spool.bundleDir(jobId)
  const meta = await spool.meta(jobId)
  for (const f of ['stdout.log', 'stderr.log'])
    await writeFile(join(bundleDir, f), '', { flag: 'a' })
  // The samples the agent streamed before it died stay in the bundle and make the summary.
  const partial = await readFile(join(bundleDir, SAMPLES_FILE), 'utf8').catch(() => '')
  const records = parseJsonLines(partial.split('\n').slice(0, -1).join('\n'))
  if (records.length === 0) {
    const header = {
      kind: 'header',
      format: SAMPLES_FORMAT,
      intervalMs: 1,
      sources: [],
      perfEvents: [],
      notSupported: [],
      interrupted: true,
    }
    await writeFile(join(bundleDir, SAMPLES_FILE), `${JSON.stringify(header)}\n`)
  } else if (!partial.endsWith('\n')) {
    // A line torn by the kill would make the file unparseable for verifiers: drop it.
    await writeFile(join(bundleDir, SAMPLES_FILE), toJsonLines(records))
  }
  const summary = summarizePartial(records)
  await writeFile(join(spool.jobDir(jobId), SUMMARY_FILE), JSON.stringify(summary))
  const ended = new Date(state.updatedAt)
  const started = new Date(meta.createdAt)
  await spool.setState(jobId, {
    phase: 'ran',
    // The agent that watched the job is gone: its exit status is unknown and said so.
    outcome: {
      exitCode: null,
      signal: 'agent-lost',
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      wallMs: Math.max(0, ended.getTime() - started.getTime()),
    },
  })
  return true
}

/** The sampling summary of an interrupted job, from the records it streamed (zeros if none). */
export function summarizePartial(records: readonly SampleRecord[]): SamplingSummary {
  const header = records.find((r) => r.kind === 'header')
  let procCpu = 0
  let cgCpu: number | null = null
  let peakRss = 0
  let cgPeak: number | null = null
  const sources = new Set<SamplingSource>()
  for (const r of records) {
    if (r.kind === 'proc') {
      sources.add('procfs')
      procCpu = Math.max(procCpu, r.cpuMs)
      peakRss = Math.max(peakRss, r.rssBytes)
    } else if (r.kind === 'cgroup') {
      sources.add('cgroup')
      if (r.cpuMs !== null) cgCpu = Math.max(cgCpu ?? 0, r.cpuMs)
      if (r.peakMemoryBytes !== null) cgPeak = Math.max(cgPeak ?? 0, r.peakMemoryBytes)
    } else if (r.kind === 'perf') sources.add('perf')
  }
  return {
    source: cgCpu !== null ? 'cgroup' : 'procfs',
    sources: [...sources],
    intervalMs: header?.kind === 'header' ? header.intervalMs : 1,
    cpuMs: cgCpu ?? procCpu,
    peakRssBytes: peakRss,
    cgroupPeakMemoryBytes: cgPeak,
    perfEvents: header?.kind === 'header' ? header.perfEvents : [],
    notSupported: [],
    perfTotals: {},
    records: Math.max(1, records.length),
  }
}

/** Moves a job from its current phase through signed → pinned → reported → queued, durably per step. */
export async function advanceJob(deps: AdvanceDeps, jobId: string): Promise<JobState> {
  const { spool } = deps
  let state = await spool.state(jobId)
  if (state.phase === 'running') {
    if (!(await recoverInterrupted(spool, jobId, state))) return state
    state = await spool.state(jobId)
  }
  // Decided not charged by the Worker (no result by the deadline): nothing left to do.
  if (state.notCharged) return state
  const bundleDir = spool.bundleDir(jobId)
  let fileCids: Map<string, CID> | undefined
  try {
    if (!reached(state.phase, 'signed')) {
      const meta = await spool.meta(jobId)
      const sampling = JSON.parse(
        await readFile(join(spool.jobDir(jobId), SUMMARY_FILE), 'utf8'),
      ) as SamplingSummary
      if (!state.outcome)
        throw new AgentError(AgentErrorCode.SPOOL_CORRUPT, `job ${jobId} ran but has no outcome`)
      const sealed = await sealBundle({
        helia: deps.helia,
        bundleDir,
        meta,
        outcome: state.outcome,
        sampling,
        runner: deps.runner,
        skippedArtifacts: state.skippedArtifacts,
        truncatedLogs: state.truncatedLogs,
        outputs: state.outputs,
        innerJobs: state.innerJobs,
        notRun: state.notRun,
        onProgress: deps.onHashProgress,
      })
      fileCids = sealed.fileCids
      state = await spool.setState(jobId, {
        phase: 'signed',
        manifestDigest: sealed.signature.digest,
        signature: sealed.signature.signature,
        lastError: undefined,
      })
    }
    if (!reached(state.phase, 'pinned')) {
      const cid = await pinBundle({
        helia: deps.helia,
        bundleDir,
        fileCids,
        onBlock: deps.onPinBlock,
      })
      state = await spool.setState(jobId, {
        phase: 'pinned',
        bundleCid: cid.toString(),
        lastError: undefined,
      })
    }
    if (!reached(state.phase, 'reported') && deps.report) {
      const { manifest, signature } = await readSealed(bundleDir)
      // How the job ended travels with the report, under the signature: the Worker releases what
      // the user owes for a job that did not run to an end (protocol's payable rule).
      const signed = {
        service: manifest.service,
        jobId,
        bundleCid: state.bundleCid!,
        manifestDigest: signature.digest,
        exitCode: manifest.exitCode,
        signal: manifest.signal,
        ...notRunOf(manifest),
      }
      try {
        await reportResult(
          {
            v: 2,
            jobId,
            bundleCid: signed.bundleCid,
            manifestDigest: signed.manifestDigest,
            runner: deps.runner.publicKey,
            signature: signResultReport(signed, deps.runner.privateKey),
            exitCode: signed.exitCode,
            signal: signed.signal,
            ...notRunOf(manifest),
          },
          deps.report,
        )
      } catch (e) {
        if (e instanceof AgentError && e.code === AgentErrorCode.REPORT_CONFLICT) {
          // Stays `pinned` (not queued for settlement) until an operator has looked.
          await spool.setState(jobId, { reportConflict: e.message })
          deps.onReportConflict?.(jobId, e.message)
        }
        if (e instanceof AgentError && e.code === AgentErrorCode.REPORT_TOO_LATE) {
          // The Worker released the user's debt for it and their later vouchers leave it out: it
          // stays `pinned` (the bundle is still the runner's record), never queued nor retried.
          return spool.setState(jobId, { notCharged: 'no-result', lastError: undefined })
        }
        throw e
      }
      state = await spool.setState(jobId, {
        phase: 'reported',
        reportConflict: undefined,
        lastError: undefined,
      })
    }
    if (state.phase === 'reported') {
      // Entering `queued` is the settlement queue: `settle` picks up every queued job.
      state = await spool.setState(jobId, { phase: 'queued' })
    }
  } catch (e) {
    await spool.setState(jobId, { lastError: (e as Error).message })
    throw e
  }
  return state
}

/** The manifest's not-run marker, when it has one (the runner refused the job before running it). */
function notRunOf(manifest: RunEnd): { notRun?: string } {
  return manifest.notRun ? { notRun: manifest.notRun } : {}
}

/** Advances every unfinished job in the spool; one job's failure does not stop the others. */
export async function resumeAll(
  deps: AdvanceDeps,
): Promise<{ jobId: string; phase: string; error?: string }[]> {
  const out: { jobId: string; phase: string; error?: string }[] = []
  for (const jobId of await deps.spool.list()) {
    try {
      const before = await deps.spool.state(jobId)
      // A job the Worker decided not charged is done: reporting it again changes nothing.
      if (reached(before.phase, 'queued') || before.notCharged) continue
      const after = await advanceJob(deps, jobId)
      out.push({ jobId, phase: after.phase })
    } catch (e) {
      out.push({
        jobId,
        phase: (await deps.spool.state(jobId).catch(() => ({ phase: 'unknown' }))).phase,
        error: (e as Error).message,
      })
    }
  }
  return out
}

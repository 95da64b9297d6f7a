import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SAMPLES_FILE } from '../bundle/build-bundle.ts'
import { SAMPLES_FORMAT } from '../sampling/samples.ts'
import { type JobMeta, type JobState, type Spool, SUMMARY_FILE } from '../spool/spool.ts'
import { summarizePartial } from './advance-job.ts'

/**
 * Spools a job that is refused before it runs. It still becomes a signed, pinned, reported result,
 * so the user sees why; its manifest's `notRun` says it delivered nothing, and settlement never
 * charges it.
 */
export async function spoolNotRun(
  spool: Spool,
  meta: JobMeta,
  reason: NonNullable<JobState['notRun']>,
  message: string,
): Promise<void> {
  await spool.create(meta)
  const bundleDir = spool.bundleDir(meta.jobId)
  await writeFile(join(bundleDir, 'stdout.log'), '')
  await writeFile(join(bundleDir, 'stderr.log'), `zkrunner: ${message}\n`)
  const header = {
    kind: 'header',
    format: SAMPLES_FORMAT,
    intervalMs: 1,
    sources: [],
    perfEvents: [],
    notSupported: [],
  }
  await writeFile(join(bundleDir, SAMPLES_FILE), `${JSON.stringify(header)}\n`)
  await writeFile(
    join(spool.jobDir(meta.jobId), SUMMARY_FILE),
    JSON.stringify(summarizePartial([])),
  )
  const now = new Date().toISOString()
  await spool.setState(meta.jobId, {
    phase: 'ran',
    notRun: reason,
    outcome: { exitCode: null, signal: null, startedAt: now, endedAt: now, wallMs: 0 },
  })
}

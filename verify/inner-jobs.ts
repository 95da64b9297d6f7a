import {
  type InnerJob,
  MAX_CALL_DEPTH,
  manifestDigest,
  type ResultManifest,
  toHex,
} from '../protocol/index.ts'
import { firstBroken, type LinkStatus } from './links.ts'
import type { VerifyOutcome, VerifyTarget } from './verify-result.ts'

// A higher-order job's manifest lists the driver jobs it used. Each is verified on its own, as
// any result is (bundle, manifest, files, signature, runner, service, source, settled), and must
// be the one the outer runner signed for (same manifest digest) and a call this runner paid for
// (the inner job's user is the outer runner). The link names the inner job and its link that
// broke, so a tampered inner bundle is pointed at, not only the outer one.

/**
 * Inner jobs verified in one whole tree at most: 64 per manifest to depth 4 would otherwise be
 * 16 million verifications for one hostile bundle, in a browser tab.
 */
export const MAX_INNER_VERIFICATIONS = 64

/** The inner verifications a tree may still make; shared by every level of one verification. */
export interface InnerBudget {
  left: number
}

/** One inner job as verified: the entry the outer manifest lists and its own verification. */
export interface InnerVerification {
  job: InnerJob
  outcome: VerifyOutcome
  /** Why the entry does not hold beyond its own links (digest, payer), or null. */
  mismatch: string | null
}

/** The inner link's verdict, and each inner job's verification for the tree. */
export async function innerJobsStatus(
  manifest: ResultManifest,
  depth: number,
  verify: (target: VerifyTarget) => Promise<VerifyOutcome>,
  budget: InnerBudget = { left: MAX_INNER_VERIFICATIONS },
): Promise<{ status: LinkStatus; detail: string; inner: InnerVerification[] }> {
  const jobs = manifest.innerJobs ?? []
  if (jobs.length === 0) return { status: 'ok', detail: 'no inner jobs', inner: [] }
  if (depth >= MAX_CALL_DEPTH)
    return {
      status: 'broken',
      detail: `inner jobs nested deeper than ${MAX_CALL_DEPTH} levels`,
      inner: [],
    }
  if (jobs.length > budget.left)
    return {
      status: 'broken',
      detail: `the tree of inner jobs lists more than ${MAX_INNER_VERIFICATIONS} jobs to verify`,
      inner: [],
    }
  budget.left -= jobs.length
  const inner: InnerVerification[] = []
  for (const job of jobs) {
    const outcome = await verify({
      bundleCid: job.bundleCid,
      service: job.service,
      jobId: job.jobId,
    })
    inner.push({ job, outcome, mismatch: mismatchOf(job, outcome.manifest, manifest.runner) })
  }
  const name = (i: InnerVerification) => `inner job ${i.job.jobId} of ${i.job.service}`
  const broken: string[] = []
  const pending: string[] = []
  for (const i of inner) {
    const b = firstBroken(i.outcome.links)
    if (b !== null) broken.push(`${name(i)}: link "${b.id}" broken: ${b.detail}`)
    else if (i.mismatch !== null) broken.push(`${name(i)}: ${i.mismatch}`)
    else {
      // Settlement of the inner job is its runner's business with this runner: not yet settled
      // is fine. Any other link left open leaves the inner result open too.
      const open = i.outcome.links.filter((l) => l.status === 'pending' && l.id !== 'settled')
      if (open.length > 0) pending.push(`${name(i)}: ${open.map((l) => l.id).join(', ')} pending`)
    }
  }
  if (broken.length > 0) return { status: 'broken', detail: broken.join('; '), inner }
  if (pending.length > 0) return { status: 'pending', detail: pending.join('; '), inner }
  return { status: 'ok', detail: `${inner.length} inner job(s) verified`, inner }
}

function mismatchOf(
  job: InnerJob,
  inner: ResultManifest | null,
  outerRunner: string,
): string | null {
  if (inner === null) return 'its manifest could not be read'
  const digest = toHex(manifestDigest(inner))
  if (digest !== job.manifestDigest)
    return `its manifest digest is ${digest}, the outer manifest lists ${job.manifestDigest}`
  if (inner.user !== outerRunner)
    return `it was requested by ${inner.user}, not by the outer runner ${outerRunner}`
  return null
}

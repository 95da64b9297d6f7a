import { z } from 'zod'
import { fromHex } from './encoding.ts'
import { fail, ProtocolError, type Result } from './errors.ts'
import { resultReportMessage } from './messages.ts'
import { parseWith } from './parse.ts'
import { isPayable } from './payable.ts'
import {
  CidSchema,
  PublicKeySchema,
  RequestIdSchema,
  Sha256HexSchema,
  SignatureSchema,
} from './primitives.ts'

import { signFields, verifyFields } from './signature.ts'

/**
 * What the agent posts to the Worker when a job's bundle is pinned (POST /v1/jobs/:id/result).
 * The bundle CID is not inside the signed manifest (the manifest is inside the bundle); anyone
 * fetching the bundle checks the manifest signature and every file hash instead. The report's
 * own signature binds the service, the job, the bundle and the manifest digest (v2; v1 signed
 * the digest alone, so a report could be replayed onto another job).
 */
export const ResultReportSchema = z.strictObject({
  v: z.literal(2),
  jobId: RequestIdSchema,
  /** UnixFS directory CID of the whole bundle. */
  bundleCid: CidSchema,
  /** SHA-256 of the manifest's canonical JSON, hex. */
  manifestDigest: Sha256HexSchema,
  runner: PublicKeySchema,
  /** The runner's signature over resultReportMessage({ service, jobId, bundleCid, manifestDigest, payable }). */
  signature: SignatureSchema,
  exitCode: z.int().min(0).max(255).nullable(),
  /** The manifest's signal (e.g. `agent-lost`), when the job did not end with an exit code. */
  signal: z.string().max(16).nullable().optional(),
  /** The manifest's not-run marker, when the runner refused the job before running it. */
  notRun: z.string().min(1).max(64).nullable().optional(),
})
/** What the agent reports to the Worker for one job. */
export type ResultReport = z.infer<typeof ResultReportSchema>

/** Validates an untrusted result report. */
export const parseResultReport = (input: unknown): Result<ResultReport> =>
  parseWith(ResultReportSchema, input)

/**
 * What the runner's report signature covers, besides the report itself: the job's service. How
 * the job ended is covered through the payable rule's verdict, so nobody but the runner can turn
 * a charged job into a released one (or back) on its way to the Worker.
 */
type SignedPart = Pick<
  ResultReport,
  'jobId' | 'bundleCid' | 'manifestDigest' | 'exitCode' | 'signal' | 'notRun'
> & { service: string }

const messageOf = (r: SignedPart): bigint[] =>
  resultReportMessage({
    service: r.service,
    jobId: r.jobId,
    bundleCid: r.bundleCid,
    manifestDigest: fromHex(r.manifestDigest),
    payable: isPayable(r),
  })

/** Signs a result report of `service`'s job with the runner oracle key. */
export function signResultReport(r: SignedPart, runnerPrivateKey: string): string {
  return signFields(messageOf(r), runnerPrivateKey)
}

/** Checks that a report's signature is its runner's over this service, job, bundle and digest. */
export function verifyResultReport(report: ResultReport, service: string): Result<true> {
  let message: bigint[]
  try {
    message = messageOf({ ...report, service })
  } catch (e) {
    // A bundle CID that cannot go on chain (not CIDv1 sha2-256) cannot be signed for either.
    if (e instanceof ProtocolError) return fail(e.code, e.message, ['bundleCid'])
    throw e
  }
  const r = verifyFields(message, report.signature, report.runner)
  return r.ok ? r : fail(r.error.code, r.error.message, ['signature'])
}

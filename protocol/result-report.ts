import { z } from 'zod'
import type { Result } from './errors.ts'
import { parseWith } from './parse.ts'
import {
  CidSchema,
  PublicKeySchema,
  RequestIdSchema,
  Sha256HexSchema,
  SignatureSchema,
} from './primitives.ts'

/**
 * What the agent posts to the Worker when a job's bundle is pinned (POST /v1/jobs/:id/result).
 * The bundle CID is not inside the signed manifest (the manifest is inside the bundle); anyone
 * fetching the bundle checks the manifest signature and every file hash instead.
 */
export const ResultReportSchema = z.strictObject({
  v: z.literal(1),
  jobId: RequestIdSchema,
  /** UnixFS directory CID of the whole bundle. */
  bundleCid: CidSchema,
  /** SHA-256 of the manifest's canonical JSON, hex. */
  manifestDigest: Sha256HexSchema,
  runner: PublicKeySchema,
  /** The runner's signature over manifestMessage(manifestDigest). */
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

import { z } from 'zod'
import { CallPathSchema } from './call-path.ts'
import type { Result } from './errors.ts'
import { OutputSpecsSchema } from './outputs.ts'
import { parseWith } from './parse.ts'
import { CommitShaSchema, PublicKeySchema, RequestIdSchema } from './primitives.ts'
import { SourceCommitmentSchema } from './source-commitment.ts'
import { VoucherSchema } from './voucher.ts'

// An artifact path names a file under the job's build directory: relative, no `.`/`..` segment,
// no control characters. The agent still resolves it on disk (symlinks are its concern).
const ArtifactPathSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
      !/[\u0000-\u001f\u007f]/.test(p) &&
      !p.split('/').some((s) => s === '..' || s === '.'),
    'must be a path relative to the build directory, without . or .. segments',
  )

/**
 * The `ZKRUNNER_*` pipeline variables the Worker starts a job with, as the runner agent reads
 * them (after `CUSTOM_ENV_` is stripped). They arrive through the CI provider, so the agent treats
 * them as untrusted: a job id becomes a path in its spool.
 */
/** A CI variable that carries JSON (at most `maxLength` characters) parsed by `schema`. */
const jsonVariable = <T extends z.ZodType>(maxLength: number, schema: T) =>
  z
    .string()
    .max(maxLength)
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' })
        return z.NEVER
      }
    })
    .pipe(schema)

export const JobVariablesSchema = z.object({
  ZKRUNNER_JOB_ID: RequestIdSchema,
  ZKRUNNER_SERVICE: PublicKeySchema,
  ZKRUNNER_USER: PublicKeySchema,
  /** The service version's source commitment: the commit the job must run. */
  ZKRUNNER_SOURCE_COMMITMENT: SourceCommitmentSchema,
  /** The user's latest voucher (canonical JSON of Voucher). */
  ZKRUNNER_VOUCHER: jsonVariable(4096, VoucherSchema).optional(),
  /** The service's declared outputs (canonical JSON of the descriptor's `outputs`). */
  ZKRUNNER_OUTPUTS: jsonVariable(16_384, OutputSpecsSchema).optional(),
  /** The service versions above a driver call (canonical JSON list), hashed into requestDigest. */
  ZKRUNNER_CALL_PATH: jsonVariable(4096, CallPathSchema).optional(),
  /** Artifact paths, comma- or newline-separated. */
  ZKRUNNER_ARTIFACTS: z
    .string()
    .max(16_384)
    .transform((s) =>
      s
        .split(/[,\n]/)
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .pipe(z.array(ArtifactPathSchema).max(256))
    .optional(),
})
/** The validated `ZKRUNNER_*` variables of one job. */
export type JobVariables = z.output<typeof JobVariablesSchema>

/** The commit a CI job checked out: GitLab's `CI_COMMIT_SHA` or GitHub's `GITHUB_SHA`. */
export const RanCommitSchema = CommitShaSchema

/** Validates a job's `ZKRUNNER_*` variables (other keys are ignored). */
export const parseJobVariables = (vars: Record<string, string | undefined>): Result<JobVariables> =>
  parseWith(JobVariablesSchema, vars)

/** Validates one artifact path as a job may declare it. */
export const parseArtifactPath = (path: string): Result<string> =>
  parseWith(ArtifactPathSchema, path)

import { randomBytes } from 'node:crypto'
import {
  isPrivateCommitment,
  opensCommitment,
  parseJobVariables,
  RanCommitSchema,
  type SourceOpening,
} from '../protocol/index.ts'
import type { CheckedOut } from './checkout-commit.ts'
import { AgentError, AgentErrorCode } from './errors.ts'
import { requestParameters } from './executor/request-parameters.ts'
import type { JobMeta } from './spool/spool.ts'

/** Who a job is for and what it must run, validated; `meta` lacks only the command. */
export interface JobIdentity {
  meta: Omit<JobMeta, 'command' | 'args' | 'createdAt'>
  /**
   * The commit the CI checked out when it differs from the source commitment: the job must not
   * run. Undefined when they match or when the CI did not say (`run` outside CI).
   */
  mismatch?: { commitment: string; ran: string }
  /** Where the commit that ran was read: the checkout itself, or only the CI's variables. */
  ranFrom: 'checkout' | 'ci-variable' | 'unknown'
}

/**
 * Reads a job's identity from its variables (`vars`: `CUSTOM_ENV_*` stripped in executor mode, the
 * environment in `run` mode; `flags` override them) and validates every value with protocol's
 * schemas before anything is written: a job id becomes a directory of the spool. The source
 * commitment is compared with the commit that is checked out: read from the checkout itself
 * (`checkout`, see checkedOutCommit) when the build directory is one, since job and trigger
 * variables can override `CI_COMMIT_SHA`; only without a checkout is it the CI's word
 * (`CI_COMMIT_SHA`, `GITHUB_SHA`). A commitment may name the commit or its root tree. Without a
 * commitment, the checked-out commit is the claim.
 */
export function jobIdentity(
  vars: NodeJS.ProcessEnv,
  cwd: string,
  flags: {
    jobId?: string
    service?: string
    user?: string
    sourceCommitment?: string
    artifacts?: string[]
    /** `run` outside the Worker names a job itself; the executor needs the Worker's id. */
    newJobId?: boolean
    /** What the build directory has checked out, read from it (null: not a git checkout). */
    checkout?: CheckedOut | null
    /**
     * The openings (salt, provider URL, project) of the private services this runner serves, from
     * its own config: a private commitment matches when one of them opens it with the commit that ran.
     */
    privateSources?: readonly Omit<SourceOpening, 'commit'>[]
  } = {},
): JobIdentity {
  const checkout = flags.checkout ?? undefined
  const ranText = checkout?.commit ?? vars.CI_COMMIT_SHA ?? vars.GITHUB_SHA
  const ran = ranText === undefined ? undefined : RanCommitSchema.safeParse(ranText)
  if (ran && !ran.success)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `CI_COMMIT_SHA/GITHUB_SHA: ${ran.error.issues[0]?.message ?? 'invalid'}`,
    )
  const artifactsText = [...(flags.artifacts ?? []), vars.ZKRUNNER_ARTIFACTS ?? '']
    .filter(Boolean)
    .join('\n')
  const parsed = parseJobVariables({
    ZKRUNNER_JOB_ID:
      flags.jobId ??
      vars.ZKRUNNER_JOB_ID ??
      (flags.newJobId ? randomBytes(16).toString('hex') : undefined),
    ZKRUNNER_SERVICE: flags.service ?? vars.ZKRUNNER_SERVICE,
    ZKRUNNER_USER: flags.user ?? vars.ZKRUNNER_USER,
    ZKRUNNER_SOURCE_COMMITMENT:
      flags.sourceCommitment ?? vars.ZKRUNNER_SOURCE_COMMITMENT ?? ran?.data,
    ZKRUNNER_VOUCHER: vars.ZKRUNNER_VOUCHER || undefined,
    ZKRUNNER_ARTIFACTS: artifactsText || undefined,
    ZKRUNNER_OUTPUTS: vars.ZKRUNNER_OUTPUTS || undefined,
    ZKRUNNER_CALL_PATH: vars.ZKRUNNER_CALL_PATH || undefined,
  })
  if (!parsed.ok) {
    const where = parsed.error.path.join('.') || 'job variables'
    const { message } = parsed.error
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      message.startsWith(where) ? message : `${where}: ${message}`,
    )
  }
  const v = parsed.value
  const commitment = v.ZKRUNNER_SOURCE_COMMITMENT
  return {
    meta: {
      jobId: v.ZKRUNNER_JOB_ID,
      service: v.ZKRUNNER_SERVICE,
      user: v.ZKRUNNER_USER,
      sourceCommitment: commitment,
      // Hashed into the manifest's requestDigest, each checked against the job's own variable.
      parameters: requestParameters((name) => vars[name]),
      artifacts: v.ZKRUNNER_ARTIFACTS ?? [],
      cwd,
      ...(v.ZKRUNNER_VOUCHER ? { voucher: v.ZKRUNNER_VOUCHER } : {}),
      ...(v.ZKRUNNER_OUTPUTS?.length ? { outputs: v.ZKRUNNER_OUTPUTS } : {}),
      // A driver call's path, hashed into requestDigest as the caller bound it.
      ...(v.ZKRUNNER_CALL_PATH?.length ? { callPath: v.ZKRUNNER_CALL_PATH } : {}),
    },
    ranFrom: checkout ? 'checkout' : ran ? 'ci-variable' : 'unknown',
    ...(ran?.data !== undefined &&
    !ranCommitted(commitment, ran.data, checkout, flags.privateSources)
      ? { mismatch: { commitment, ran: ran.data } }
      : {}),
  }
}

/** Whether the commit that ran is the one a commitment names: in the clear, or opened privately. */
function ranCommitted(
  commitment: string,
  ran: string,
  checkout: CheckedOut | undefined,
  privateSources: readonly Omit<SourceOpening, 'commit'>[] = [],
): boolean {
  if (!isPrivateCommitment(commitment)) return ran === commitment || checkout?.tree === commitment
  return privateSources.some((o) => opensCommitment({ ...o, commit: ran }, commitment))
}

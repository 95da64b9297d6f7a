import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { SourceOpening } from '../../protocol/index.ts'
import { checkedOutCommit } from '../checkout-commit.ts'
import type { AgentConfig } from '../config.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { customEnv } from '../isolation/job-env.ts'
import { findJobScope, type JobScope, openJobScope } from '../isolation/job-scope.ts'
import type { JobUser } from '../isolation/job-user.ts'
import { type JobIdentity, jobIdentity } from '../job-identity.ts'

/** The stages whose script is the user's job: sampled and bundled. Others run plainly. */
export const SAMPLED_STAGES = new Set(['step_script', 'build_script'])

/** The JSON `config_exec` prints: where GitLab Runner puts builds and caches for this executor. */
export function executorConfig(
  config: Pick<AgentConfig, 'buildsDir'>,
  version: string,
): Record<string, unknown> {
  return {
    // Outside the data dir: the job user reaches its builds, never the key's directory.
    builds_dir: config.buildsDir,
    cache_dir: join(config.buildsDir, 'cache'),
    builds_dir_is_shared: false,
    driver: { name: 'zkrunner', version },
  }
}

/**
 * Reads the zkrunner job from `CUSTOM_ENV_*`, validated; null for a job that is not a zkrunner job.
 * With `checkoutAs` (the job user, or null for the agent's own), the commit that ran is read from
 * the project directory's checkout, as that user (get_sources has run by the job's script stage).
 */
export function jobFromEnv(
  env: NodeJS.ProcessEnv,
  fallbackCwd: string,
  checkoutAs?: JobUser | null,
  privateSources: readonly Omit<SourceOpening, 'commit'>[] = [],
): JobIdentity | null {
  const vars = customEnv(env)
  if (!vars.ZKRUNNER_JOB_ID) return null
  const cwd = vars.CI_PROJECT_DIR ?? fallbackCwd
  return jobIdentity(vars, cwd, {
    privateSources,
    ...(checkoutAs !== undefined ? { checkout: checkedOutCommit(cwd, checkoutAs) } : {}),
  })
}

/** GitLab Runner's failure codes for this call, from its environment. */
export function failureCodes(env: NodeJS.ProcessEnv): { build: number; system: number } {
  return {
    build: Number(env.BUILD_FAILURE_EXIT_CODE ?? 1),
    system: Number(env.SYSTEM_FAILURE_EXIT_CODE ?? 2),
  }
}

/** Runs a stage script plainly (not a sampled stage), streaming its output; resolves to its exit code. */
export function runPlain(
  script: string,
  cwd: string,
  env: Record<string, string>,
  user: JobUser | null,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], {
      stdio: 'inherit',
      cwd,
      env,
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    })
    child.on('error', (e) =>
      reject(new AgentError(AgentErrorCode.SPAWN_FAILED, `bash: ${e.message}`)),
    )
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)))
  })
}

/**
 * The scope key of a GitLab job, the same in every stage of it: its CI_JOB_ID, and its project
 * directory (jobs of two GitLab instances, or two local stacks, may share an id, never a directory).
 */
function gitlabScopeKey(env: NodeJS.ProcessEnv): string {
  const ci = customEnv(env)
  const id = ci.CI_JOB_ID
  if (!id || !/^\d{1,20}$/.test(id))
    throw new AgentError(
      AgentErrorCode.EXECUTOR_USAGE,
      `CUSTOM_ENV_CI_JOB_ID ${JSON.stringify(id ?? '')}: not a GitLab job id`,
    )
  const where = createHash('sha256')
    .update(ci.CI_PROJECT_DIR ?? '')
    .digest('hex')
  return `gitlab-${id}-${where.slice(0, 12)}`
}

/**
 * prepare_exec: claims the job user for this job (job-scope.ts). Refused while another job's
 * processes run as that user: GitLab Runner may run jobs of one runner at once (`limit`,
 * `concurrent`), and two jobs of one user could reach each other's files and processes.
 */
export async function claimJobUser(env: NodeJS.ProcessEnv, user: JobUser | null): Promise<void> {
  // A new scope: the key comes from CI variables a job can override, so one that exists already
  // is another job's (running, or between its stages), never this one's to share.
  if (user) await openJobScope(user, gitlabScopeKey(env), { fresh: true })
}

/**
 * run_exec: moves this stage's agent into the job's scope before it starts anything, so every
 * process of the stage (and whatever it leaves) is born there and ends with the job. The scope
 * must be the one prepare claimed: one another job's claim cleared between two stages (it held
 * nothing then) is refused, never made again, since that job may have run meanwhile as the same
 * user and changed this job's checkout.
 */
export async function enterJobScope(env: NodeJS.ProcessEnv, user: JobUser | null): Promise<void> {
  if (user) await findJobScope(user, gitlabScopeKey(env)).enter(process.pid)
}

/**
 * cleanup_exec: ends the job's scope, killing everything the job left running (setsid, a new
 * process group or a scrubbed environment make no difference), so nothing of it reaches the next
 * job of the user. Returns how many processes it ended.
 */
export async function endJobScope(env: NodeJS.ProcessEnv, user: JobUser | null): Promise<number> {
  if (!user) return 0
  let scope: JobScope
  try {
    scope = findJobScope(user, gitlabScopeKey(env))
  } catch (e) {
    // Gone: another job's claim found it empty and cleared it; nothing of this job is left.
    if (e instanceof AgentError && e.code === AgentErrorCode.JOB_USER_BUSY) return 0
    throw e
  }
  return scope.end()
}

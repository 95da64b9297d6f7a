import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { SourceOpening } from '../../protocol/index.ts'
import { checkedOutCommit } from '../checkout-commit.ts'
import type { AgentConfig } from '../config.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { customEnv } from '../isolation/job-env.ts'
import type { JobUser } from '../isolation/job-user.ts'
import { mkdirPrivate } from '../isolation/private-fs.ts'
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

/** Creates the builds dir 0700, owned by the job user when there is one (it clones into it). */
export async function prepareBuildsDir(dir: string, user: JobUser | null): Promise<void> {
  await mkdirPrivate(dir)
  if (user) await chown(dir, user.uid, user.gid)
}

/** Makes sure the job's directory exists and is the job user's (it runs there). */
export async function ensureJobDir(dir: string, user: JobUser | null): Promise<void> {
  if (existsSync(dir)) return
  await mkdir(dir, { recursive: true, mode: 0o755 })
  if (user) await chown(dir, user.uid, user.gid)
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

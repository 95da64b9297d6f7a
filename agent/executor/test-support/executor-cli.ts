import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { JobUser } from '../../isolation/job-user.ts'

// The GitLab custom executor as GitLab Runner calls it (`zkrunner-agent executor <stage>`, one
// process a stage), for the attack tests that run a job as a real job user through its stages.

const execFileP = promisify(execFile)
const root = new URL('../../..', import.meta.url).pathname
const NODE = join(root, 'node_modules/.bin/node')
const CLI = ['--import', join(root, 'scripts/swc-register.mjs'), join(root, 'agent/cli.ts')]

/**
 * A fresh `base` for `ExecutorCall`s: open to the job user (it runs inside), with the agent's
 * data dir (`base/data`) private to root.
 */
export async function makeExecutorBase(prefix: string): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), prefix))
  await chmod(base, 0o755)
  await mkdir(join(base, 'data'), { mode: 0o700 })
  return base
}

/** One stage call: the test's own dirs under `base` (data in `base/data`), a plain CI job. */
export interface ExecutorCall {
  base: string
  jobUser: JobUser
  /** GitLab's CI_JOB_ID: no ZKRUNNER_JOB_ID, so a plain CI job any runner takes. */
  jobId: number
  /** The builds dir (`base/builds` when absent). */
  builds?: string
  /** GitLab's CI_BUILDS_DIR, when the job says one. */
  ciBuildsDir?: string
  /** GitLab's CI_PROJECT_DIR, also the stage's working directory when `cwd` is absent. */
  projectDir: string
  /** The stage's working directory (`base` when absent). */
  cwd?: string
}

/** Runs `zkrunner-agent executor ...args` as root, with no runner key; never throws on its exit. */
export async function runExecutor(
  args: string[],
  call: ExecutorCall,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { ZKRUNNER_RUNNER_KEY: _k, ...rest } = process.env
  const env = {
    ...rest,
    ZKRUNNER_DATA_DIR: join(call.base, 'data'),
    ZKRUNNER_BUILDS_DIR: call.builds ?? join(call.base, 'builds'),
    ZKRUNNER_WORKER_URL: 'http://127.0.0.1:9',
    ZKRUNNER_METRICS_LISTEN: '',
    ZKRUNNER_JOB_USER: call.jobUser.name,
    BUILD_FAILURE_EXIT_CODE: '37',
    SYSTEM_FAILURE_EXIT_CODE: '38',
    CUSTOM_ENV_CI_JOB_ID: String(call.jobId),
    ...(call.ciBuildsDir ? { CUSTOM_ENV_CI_BUILDS_DIR: call.ciBuildsDir } : {}),
    CUSTOM_ENV_CI_PROJECT_DIR: call.projectDir,
  }
  try {
    const r = await execFileP(NODE, [...CLI, 'executor', ...args], {
      env,
      cwd: call.cwd ?? call.base,
    })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

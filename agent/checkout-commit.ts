import { spawnSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { RanCommitSchema } from '../protocol/index.ts'

/** What the build directory has checked out: its HEAD commit and that commit's root tree. */
export interface CheckedOut {
  commit: string
  tree: string
}

/**
 * Reads the commit checked out in `dir` from the checkout itself, not from `CI_COMMIT_SHA` or
 * `GITHUB_SHA` (job and trigger variables can override those). Null when `dir` is not itself the
 * top of a git work tree (a copied project, `GIT_STRATEGY: none`): the caller then has only the
 * CI's claim.
 *
 * The job's user controls the checkout (a previous job may have left a `.git/config` behind), so
 * git runs as that user when there is one, with an argument array and an environment of its own:
 * no system or global config, no `GIT_DIR`-style variables from the job, and no discovery of a
 * repository above `dir` (GIT_CEILING_DIRECTORIES), which would name some other project's commit.
 */
export function checkedOutCommit(
  dir: string,
  user: { uid: number; gid: number } | null = null,
): CheckedOut | null {
  let top: string
  try {
    top = realpathSync(dir)
  } catch {
    return null
  }
  const r = spawnSync(
    'git',
    [
      '-c',
      `safe.directory=${top}`,
      '-C',
      top,
      'rev-parse',
      '--show-toplevel',
      'HEAD^{commit}',
      'HEAD^{tree}',
    ],
    {
      encoding: 'utf8',
      timeout: 10_000,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: '/nonexistent',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CEILING_DIRECTORIES: dirname(top),
        GIT_TERMINAL_PROMPT: '0',
      },
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    },
  )
  if (r.status !== 0 || typeof r.stdout !== 'string') return null
  const [topLevel, commit, tree] = r.stdout.trim().split('\n')
  // A subdirectory of a checkout is not the checkout the CI made for this job.
  if (topLevel === undefined || resolve(topLevel) !== top) return null
  const c = RanCommitSchema.safeParse(commit)
  const t = RanCommitSchema.safeParse(tree)
  return c.success && t.success ? { commit: c.data, tree: t.data } : null
}

import { statSync } from 'node:fs'
import { dirname } from 'node:path'
import { busyJobScopesOf, processesOf } from '../agent/isolation/job-scope.ts'
import { ensureSystemUser, type JobUser, lookupUser } from '../agent/isolation/job-user.ts'
import { userHasProcesses } from '../agent/isolation/user-processes.ts'

/** The unprivileged user the stack's jobs run as, created once when missing. */
export const STACK_JOB_USER = 'zkrunner-job'

/** The first directory on the way to `dir` that `other` users cannot traverse, if any. */
function closedAncestor(dir: string): string | null {
  for (let d = dirname(dir); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return d
    } catch {}
    if (d === dirname(d)) return null
  }
}

/**
 * Decides who the stack's jobs run as, so the local stack exercises the same isolation a runner
 * host does (the job cannot read the runner key). As root: the system user {@link STACK_JOB_USER},
 * created once with `useradd --system`, or `nobody` when it cannot be. Not as root, or when the
 * job user could not reach `buildsDir`: undefined, and `log` says plainly that jobs then run as
 * the agent's own user, who can read the key.
 */
export function stackJobUser(buildsDir: string, log: (line: string) => void): JobUser | undefined {
  const uid = process.getuid?.() ?? -1
  if (uid !== 0) {
    log(
      `jobs run as the agent's own user (uid ${uid}): not root, so no job user; a job could read the runner key (run the stack as root to exercise the isolation)`,
    )
    return undefined
  }
  let user: JobUser | undefined
  try {
    const existed = (() => {
      try {
        return lookupUser(STACK_JOB_USER)
      } catch {
        return undefined
      }
    })()
    user = existed ?? ensureSystemUser(STACK_JOB_USER)
    if (!existed) log(`created the system user ${STACK_JOB_USER} for jobs`)
  } catch (e) {
    log(`${(e as Error).message}: trying nobody`)
    try {
      user = lookupUser('nobody')
    } catch {}
  }
  if (!user) {
    log(
      'no job user (neither zkrunner-job nor nobody): jobs run as root, who can read the runner key',
    )
    return undefined
  }
  const closed = closedAncestor(buildsDir)
  if (closed) {
    log(
      `jobs run as root: ${closed} is closed to other users, so the job user ${user.name} could not reach the builds dir ${buildsDir}; a job could read the runner key`,
    )
    return undefined
  }
  log(`jobs run as ${user.name} (uid ${user.uid}): they cannot read the runner key`)
  return user
}

/**
 * Runs the stack's jobs one at a time when they share the job user (GitLab's and GitHub's alike),
 * as README's runner set-up has operators do: a job refuses to start while another job's processes
 * run as its user (agent/isolation/job-scope.ts). Before each job it also waits, within a bound,
 * for jobs of that user started by something else (another stack on the same host) to end; past
 * the bound the job starts and is refused with the reason.
 */
export function oneJobAtATime(
  user: JobUser | undefined,
  log: (line: string) => void,
): <T>(job: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return (job) => {
    const turn = tail.then(async () => {
      if (user) await untilUserIdle(user, log)
      return job()
    })
    tail = turn.catch(() => {})
    return turn
  }
}

/**
 * Waits (polling: another process's exit has no event to wait on) until `user` runs nothing and
 * no job scope of it holds a process (a GitLab stage's agent, root, is in its job's scope).
 */
async function untilUserIdle(user: JobUser, log: (line: string) => void): Promise<void> {
  const bound = Date.now() + 10 * 60_000
  let said = false
  // The kernel's count too: a process hopping from pid to pid is never listed.
  const busy = async () =>
    processesOf(user.uid).length > 0 ||
    busyJobScopesOf(user).length > 0 ||
    (await userHasProcesses(user))
  while ((await busy()) && Date.now() < bound) {
    if (!said) log(`waiting for the processes of ${user.name} (another job on this host) to end`)
    said = true
    await new Promise((r) => setTimeout(r, 500))
  }
}

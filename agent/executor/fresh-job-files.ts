import { lstatSync, readdirSync } from 'node:fs'
import { chown, mkdir, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { removeUserIpcObjects } from '../isolation/ipc-objects.ts'
import type { JobUser } from '../isolation/job-user.ts'
import { runTool } from '../isolation/run-tool.ts'

/**
 * Where a job's HOME and TMPDIR are: fresh for each job, under the builds dir (so wiped with it).
 * The builds paths GitLab Runner makes (`<token>/<n>/<namespace>/<project>`, `cache`) never start
 * with a dot.
 */
export function jobHomeDirs(buildsDir: string): { home: string; tmp: string } {
  const root = join(buildsDir, '.zkrunner-job')
  return { home: join(root, 'home'), tmp: join(root, 'tmp') }
}

/**
 * The shared directories where a job user can leave files: its own top-level entries are its.
 * /dev/mqueue holds POSIX message queues where it is mounted (a queue is a file there).
 */
const SHARED_TEMP = ['/tmp', '/var/tmp', '/dev/shm', '/run/lock', '/dev/mqueue']

/**
 * prepare_exec, once the job user is claimed (no process of it runs): nothing an earlier job of
 * the user wrote is left for this one. GitLab Runner reuses a project's build directory (and its
 * `.git`: hooks and config that run in this job's checkout), and any job of the user could have
 * planted files in the user's home or in /tmp for a later job to pick up, whatever its project.
 *
 * - The builds dir is emptied (as root, from directory fds: no process of the user runs, but one
 *   of another user may, where a job opened the builds dir to it) and gets a fresh HOME and
 *   TMPDIR for the job (`jobHomeDirs`). GitLab's local cache (`cache_dir`, inside it) goes with
 *   it: another project's job could have written it.
 * - The user's own entries in /tmp, /var/tmp and /dev/shm, and the contents of its passwd home
 *   when that is its own directory, are removed as the user: only what a job could have removed
 *   itself (anything a job wrote). The builds dir is never among them, wherever it is.
 * - The user's SysV shared memory, semaphores and message queues are removed (`ipc-objects.ts`).
 */
export async function freshJobFiles(buildsDir: string, user: JobUser): Promise<void> {
  // Emptied as root (by fds, never following a link: removeTrees): a builds dir that is a system
  // directory (`/`, `/home`, `/var`) is a mistake of the configuration, never emptied.
  if (resolve(buildsDir).split('/').filter(Boolean).length < 2)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `buildsDir ${buildsDir}: the executor empties it for each job, so it must be a directory of its own (e.g. /var/lib/zkrunner-agent-builds)`,
    )
  // In batches: a job may leave more top-level entries than one argument list holds.
  const entries = (await readdir(buildsDir)).map((e) => join(buildsDir, e))
  for (let i = 0; i < entries.length; i += 1000) await removeTrees(entries.slice(i, i + 1000))
  const { home, tmp } = jobHomeDirs(buildsDir)
  for (const dir of [join(buildsDir, '.zkrunner-job'), home, tmp]) {
    await mkdir(dir, { mode: 0o700 })
    await chown(dir, user.uid, user.gid)
  }
  const theirs = SHARED_TEMP.filter((d) => ownedBy(d, 0))
  const passwdHome = ownedBy(user.home, user.uid) && user.home !== '/' ? [user.home] : []
  // The builds dir itself (the job user owns it, and it may sit in /tmp) is what this job runs in:
  // emptied above, never removed.
  const builds = resolve(buildsDir)
  const notBuilds = (p: string) => p !== builds && !builds.startsWith(`${p}/`)
  const swept = () =>
    [...theirs.flatMap((d) => entriesOf(d, user.uid)), ...passwdHome.flatMap(allEntries)].filter(
      notBuilds,
    )
  const ipcLeft = await removeUserIpcObjects(user)
  if (ipcLeft.length > 0)
    process.stderr.write(
      `zkrunner: could not remove ${ipcLeft.length} SysV IPC object(s) of ${user.name}: ${ipcLeft.map((o) => `${o.kind} ${o.id}`).join(', ')}\n`,
    )
  const targets = swept()
  if (targets.length === 0) return
  // Read-only directories of its own are made writable first (a job could make one to keep it).
  await asUser(user, ['chmod', '-R', 'u+rwX', '--', ...targets])
  await asUser(user, ['rm', '-rf', '--', ...targets])
  // Whatever a job wrote as the user, the user can remove: what is left holds files of another
  // owner (a directory root made inside one of the user's, e.g. an old runner's scripts), which no
  // job wrote. Said, not fatal: failing every later job on it would stop the runner for good.
  const left = swept()
  if (left.length > 0)
    process.stderr.write(
      `zkrunner: kept ${left.length} entr${left.length === 1 ? 'y' : 'ies'} of ${user.name} holding files of another owner: ${left.slice(0, 5).join(' ')}\n`,
    )
}

/**
 * Removes `paths` and all they hold, as root, with GNU rm: it walks each tree from directory fds
 * (fts, openat, O_NOFOLLOW), so a directory swapped for a symlink while it is inside is never
 * followed. Node's recursive rm goes by path names: the builds dir keeps whatever mode a job gave
 * it, and a process of another user (another runner's job user, running meanwhile) that can write
 * in it swapped a subdirectory for a symlink once root was unlinking inside: root's next unlinks
 * landed in any directory.
 */
function removeTrees(paths: string[]): Promise<void> {
  return runTool(['rm', '-rf', '--', ...paths], 'could not empty the builds dir')
}

function ownedBy(path: string, uid: number): boolean {
  try {
    const s = lstatSync(path)
    return s.isDirectory() && s.uid === uid
  } catch {
    return false
  }
}

/** The top-level entries of `dir` owned by `uid` (never followed: a symlink is an entry). */
function entriesOf(dir: string, uid: number): string[] {
  return allEntries(dir).filter((p) => {
    try {
      return lstatSync(p).uid === uid
    } catch {
      return false
    }
  })
}

function allEntries(dir: string): string[] {
  try {
    return readdirSync(dir).map((e) => join(dir, e))
  } catch {
    return []
  }
}

/** Runs `argv` as the user (runTool); resolves whatever its exit code: what is left is read back. */
function asUser(user: JobUser, argv: string[]): Promise<void> {
  return runTool(argv, argv[0]!, { uid: user.uid, gid: user.gid }).catch(() => {})
}

/** HOME and TMPDIR of a job that runs as a job user: its fresh ones (none without a job user). */
export function jobHomeEnv(
  buildsDir: string,
  isolation: { user: JobUser | null },
): Record<string, string> {
  if (!isolation.user) return {}
  const { home, tmp } = jobHomeDirs(buildsDir)
  return { HOME: home, TMPDIR: tmp }
}

import { constants } from 'node:fs'
import { lstat, mkdir, open, unlink } from 'node:fs/promises'
import { resolve } from 'node:path'
import { AgentError, AgentErrorCode } from '../errors.ts'
import type { JobUser } from '../isolation/job-user.ts'
import { mkdirPrivate } from '../isolation/private-fs.ts'
import { runTool } from '../isolation/run-tool.ts'

// The agent prepares the builds dir as root, and the builds dir is the job user's: wherever the
// user can rename its own entries (a sticky /tmp, as the local stack has it), a job can move the
// builds dir away and leave a symlink in its place, or replace a directory above it that it owns.
// A prepare that followed such a link chowned its target to the job user and emptied it as root.
// Prepare runs once the job user is claimed (no process of it runs), so what is checked here
// cannot change before it is used.

const refuse = (dir: string, why: string) =>
  new AgentError(
    AgentErrorCode.INVALID_CONFIG,
    `buildsDir ${dir}: ${why}; the agent works in it as root, so it must be a real directory under directories only root can change (e.g. /var/lib/zkrunner-agent-builds)`,
  )

/**
 * Makes the builds dir (0700) and gives it to the job user, following no link on the way. Refused:
 * a symlink, a non-directory or a directory of the job user above it. A symlink or file of the job
 * user in the builds dir's own place is the job's doing: it is removed (the link, never its
 * target) and the builds dir made again.
 */
export async function prepareBuildsDir(
  dir: string,
  user: JobUser | null,
  log: (line: string) => void = (line) => process.stderr.write(`zkrunner: ${line}\n`),
): Promise<void> {
  const path = resolve(dir)
  const parts = path.split('/').filter(Boolean)
  for (let i = 1; i < parts.length; i++) {
    const above = `/${parts.slice(0, i).join('/')}`
    const s = await lstat(above).catch(() => null)
    // Missing: made below, by root, with nothing of the job user's in it.
    if (!s) break
    if (s.isSymbolicLink()) throw refuse(dir, `${above} is a symbolic link (give the real path)`)
    if (!s.isDirectory()) throw refuse(dir, `${above} is not a directory`)
    if (user && s.uid === user.uid)
      throw refuse(dir, `${above} belongs to the job user ${user.name}, who could swap it`)
  }
  const own = await lstat(path).catch(() => null)
  if (own && !own.isDirectory()) {
    if (!user || own.uid !== user.uid) throw refuse(dir, 'it is not a directory')
    log(
      `removed a ${own.isSymbolicLink() ? 'symbolic link' : 'file'} ${user.name} left in place of the builds dir ${dir}`,
    )
    await unlink(path)
  }
  await mkdirPrivate(path)
  // An existing one keeps the mode a job gave it (0777: another user's processes, running
  // meanwhile, could work in it while root empties it): 0700 again, through the directory opened
  // without following a link.
  if (!user) return
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  try {
    await fh.chown(user.uid, user.gid)
    await fh.chmod(0o700)
  } finally {
    await fh.close()
  }
}

/**
 * Makes the job's directory (inside the builds dir) as the job user when there is one: its earlier
 * stages ran as that user and could have put links in the builds dir, which root would follow.
 */
export function ensureJobDir(dir: string, user: JobUser | null): Promise<void> {
  if (!user) return mkdir(dir, { recursive: true, mode: 0o755 }).then(() => {})
  return runTool(
    ['mkdir', '-p', '--', dir],
    `could not make the job's directory ${dir} as ${user.name}`,
    { uid: user.uid, gid: user.gid },
  )
}

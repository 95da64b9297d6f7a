import type { FileHandle } from 'node:fs/promises'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { runTool } from './run-tool.ts'

/**
 * Makes what it removes writable first (the user's own entries: a job may leave a read-only
 * directory so that it could not be removed), then removes it. `$1` names the entry through fd 3,
 * the directory the agent opened without following links, never through a path the job can swap.
 */
const REMOVE =
  'chmod u+rwx /proc/self/fd/3 2>/dev/null; chmod -R u+rwX -- "$1" 2>/dev/null; rm -rf -- "$1"'

/**
 * Removes `name` (a file, a link itself, or a directory with all it holds) from the directory open
 * as `dir`, as `user`. Root's recursive removal goes by path names: while it is inside a
 * subdirectory, a process of the job's user can swap that subdirectory for a symlink, and root's
 * next unlinks land wherever it points. Done as the user, such a swap can only delete what the
 * user could delete itself.
 */
export function removeAsUser(
  dir: FileHandle,
  name: string,
  user: { uid: number; gid: number },
): Promise<void> {
  if (name === '' || name === '.' || name === '..' || name.includes('/'))
    throw new AgentError(AgentErrorCode.EXECUTOR_USAGE, `not one entry's name: ${name}`)
  return runTool(
    ['/bin/sh', '-c', REMOVE, 'zkrunner-remove', `/proc/self/fd/3/${name}`],
    `could not remove ${name} as uid ${user.uid}`,
    // Not the agent's own directory as cwd, which the user may not be allowed to enter.
    { uid: user.uid, gid: user.gid, cwd: '/', fd3: dir.fd },
  )
}

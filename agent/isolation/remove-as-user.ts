import { spawn } from 'node:child_process'
import type { FileHandle } from 'node:fs/promises'
import { AgentError, AgentErrorCode } from '../errors.ts'

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
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', REMOVE, 'zkrunner-remove', `/proc/self/fd/3/${name}`], {
      uid: user.uid,
      gid: user.gid,
      // Not the agent's own directory, which the user may not be allowed to enter.
      cwd: '/',
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'pipe', dir.fd],
    })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString()
    })
    child.once('error', (e) =>
      reject(new AgentError(AgentErrorCode.SPAWN_FAILED, `/bin/sh: ${e.message}`)),
    )
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new AgentError(
              AgentErrorCode.SPAWN_FAILED,
              `could not remove ${name} as uid ${user.uid}: ${stderr.trim().slice(0, 512)}`,
            ),
          ),
    )
  })
}

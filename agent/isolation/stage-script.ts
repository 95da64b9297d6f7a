import { chmod, chown, copyFile, mkdtemp, rmdir, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JobUser } from './job-user.ts'

/**
 * A copy of a stage script that the job's user can read (GitLab Runner writes scripts into a
 * directory only its own user opens), in a fresh directory, removed by `dispose`. Without a job
 * user the script is run where it is.
 *
 * The directory stays root's (0711: the job reaches the file by name, lists and writes nothing);
 * only the file is the user's. A plain stage's leftovers run on until the job's cleanup: were the
 * directory the user's, a leftover could fill it and swap a subdirectory for a symlink while root
 * removed it recursively (by path names), and root unlinked files wherever the symlink pointed.
 * `dispose` removes exactly the one file and the then empty directory, nothing recursively.
 */
export async function scriptFor(
  script: string,
  user: JobUser | null,
): Promise<{ path: string; dispose: () => Promise<void> }> {
  if (!user) return { path: script, dispose: async () => {} }
  const dir = await mkdtemp(join(tmpdir(), 'zkrunner-script-'))
  const path = join(dir, 'script')
  await copyFile(script, path)
  await chown(path, user.uid, user.gid)
  await chmod(dir, 0o711)
  return {
    path,
    dispose: async () => {
      await unlink(path).catch(() => {})
      await rmdir(dir)
    },
  }
}

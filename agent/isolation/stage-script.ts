import { chown, copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JobUser } from './job-user.ts'

/**
 * A copy of a stage script that the job's user can read (GitLab Runner writes scripts into a
 * directory only its own user opens), in a fresh directory of that user's, removed by `dispose`.
 * Without a job user the script is run where it is.
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
  await chown(dir, user.uid, user.gid)
  return { path, dispose: () => rm(dir, { recursive: true, force: true }) }
}

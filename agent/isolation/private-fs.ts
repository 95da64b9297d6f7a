import { mkdir } from 'node:fs/promises'

/** Mode of every file the agent creates: the key, the spool's state, its bundles before pinning. */
export const PRIVATE_FILE_MODE = 0o600
/** Mode of every directory the agent creates: the data dir, the spool, the blockstore. */
export const PRIVATE_DIR_MODE = 0o700

/**
 * Creates a directory (and missing parents) 0700 at creation, so there is no moment when it is
 * 0755 and another user can open it or a file inside it.
 */
export async function mkdirPrivate(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE })
}

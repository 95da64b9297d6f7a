import { realpathSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import type { AgentConfig } from '../config.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { KEY_FILE } from '../keys.ts'

// Resolves symlinks of the longest existing prefix, so a link cannot hide that a dir is inside another.
function real(path: string): string {
  const abs = resolve(path)
  try {
    return realpathSync(abs)
  } catch {
    const parent = dirname(abs)
    return parent === abs ? abs : join(real(parent), relative(parent, abs))
  }
}

/** True when `path` is `dir` or inside it. */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(real(dir), real(path))
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'))
}

/**
 * Refuses a configuration where the runner key file (or the data dir that holds it and the spool)
 * sits under a directory a job writes and reads: the builds dir, or the job's own directories
 * (`CI_BUILDS_DIR`, `CI_PROJECT_DIR`, the `run` command's working directory).
 */
export function checkKeyPlacement(
  config: Pick<AgentConfig, 'dataDir' | 'buildsDir'>,
  jobDirs: readonly (string | undefined)[] = [],
): void {
  const keyFile = join(config.dataDir, KEY_FILE)
  for (const dir of [config.buildsDir, ...jobDirs]) {
    if (dir === undefined) continue
    for (const held of [keyFile, config.dataDir])
      if (isInside(held, dir))
        throw new AgentError(
          AgentErrorCode.INVALID_CONFIG,
          `${held} is inside ${dir}, where jobs read and write: move the data dir (ZKRUNNER_DATA_DIR) or the builds dir (ZKRUNNER_BUILDS_DIR) apart`,
        )
  }
}

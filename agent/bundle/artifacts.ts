import { cp, stat } from 'node:fs/promises'
import { isAbsolute, join, normalize } from 'node:path'

/**
 * Copies declared artifacts (paths relative to the job's working directory) into
 * `<bundleDir>/artifacts/`. Missing artifacts are reported, not fatal: a failed job often has none.
 */
export async function collectArtifacts(
  cwd: string,
  paths: readonly string[],
  bundleDir: string,
): Promise<string[]> {
  const missing: string[] = []
  for (const p of paths) {
    const rel = normalize(p)
    if (isAbsolute(rel) || rel.startsWith('..')) {
      missing.push(p)
      continue
    }
    const src = join(cwd, rel)
    try {
      await stat(src)
    } catch {
      missing.push(p)
      continue
    }
    await cp(src, join(bundleDir, 'artifacts', rel), { recursive: true, dereference: false })
  }
  return missing
}

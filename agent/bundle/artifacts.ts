import { constants } from 'node:fs'
import { lstat, mkdir, open, readdir, realpath } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { parseArtifactPath, type SkippedArtifact } from '../../protocol/index.ts'

/** What collecting the declared artifacts did. */
export interface CollectedArtifacts {
  /** Bundle paths copied (under `artifacts/`). */
  copied: string[]
  /** Declared artifacts (or entries inside a declared directory) left out, and why. */
  skipped: SkippedArtifact[]
}

const inside = (path: string, dir: string) => {
  const rel = relative(dir, path)
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep))
}

/**
 * Copies declared artifacts (paths relative to the job's build directory) into
 * `<bundleDir>/artifacts/`. The job controls the build directory, and the agent may be root, so
 * nothing is followed out of it: a path with a symlink in any component (a trailing slash onto a
 * symlinked directory included) is skipped, as is any symlink, FIFO or device inside a declared
 * directory, and files are opened with O_NOFOLLOW. Skipped and missing artifacts are reported,
 * not fatal: a failed job often has none.
 */
export async function collectArtifacts(
  cwd: string,
  paths: readonly string[],
  bundleDir: string,
): Promise<CollectedArtifacts> {
  const out: CollectedArtifacts = { copied: [], skipped: [] }
  const root = await realpath(cwd)
  for (const p of paths) {
    const checked = parseArtifactPath(p)
    if (!checked.ok) {
      out.skipped.push({ path: p.slice(0, 1024) || '(empty)', reason: 'outside-build-dir' })
      continue
    }
    const segments = p.split('/').filter((s) => s !== '')
    let reason: SkippedArtifact['reason'] | undefined
    let current = root
    for (const s of segments) {
      current = join(current, s)
      const st = await lstat(current).catch(() => null)
      if (!st) reason = 'missing'
      else if (st.isSymbolicLink()) reason = 'symlink'
      if (reason) break
    }
    if (!reason && !inside(current, root)) reason = 'outside-build-dir'
    if (reason) {
      out.skipped.push({ path: p, reason })
      continue
    }
    await copyTree(root, segments.join('/'), join(bundleDir, 'artifacts'), out)
  }
  return out
}

// Copies one entry (relative to root) without following any symlink; reports what it skips.
async function copyTree(
  root: string,
  rel: string,
  destRoot: string,
  out: CollectedArtifacts,
): Promise<void> {
  const src = join(root, rel)
  const st = await lstat(src)
  if (st.isSymbolicLink()) {
    out.skipped.push({ path: rel, reason: 'symlink' })
  } else if (st.isDirectory()) {
    await mkdir(join(destRoot, rel), { recursive: true })
    for (const name of (await readdir(src)).sort())
      await copyTree(root, `${rel}/${name}`, destRoot, out)
  } else if (st.isFile()) {
    // O_NOFOLLOW: a file swapped for a symlink since the lstat is refused, not followed.
    const fh = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    try {
      if (!(await fh.stat()).isFile()) {
        out.skipped.push({ path: rel, reason: 'not-a-file' })
        return
      }
      const dest = join(destRoot, rel)
      await mkdir(join(dest, '..'), { recursive: true })
      const target = await open(dest, 'wx', 0o600)
      try {
        await pipeline(fh.createReadStream({ autoClose: false }), target.createWriteStream())
      } finally {
        await target.close().catch(() => {})
      }
      out.copied.push(`artifacts/${rel}`)
    } finally {
      await fh.close().catch(() => {})
    }
  } else {
    // A FIFO would block the agent forever; a device is not the job's output.
    out.skipped.push({ path: rel, reason: 'not-a-file' })
  }
}

import type { Stats } from 'node:fs'
import { constants } from 'node:fs'
import { type FileHandle, lstat, mkdir, open, readdir, readlink, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import {
  MAX_BUNDLE_PATH,
  MAX_MANIFEST_FILES,
  MAX_SKIPPED_ARTIFACTS,
  parseArtifactPath,
  type SkippedArtifact,
} from '../../protocol/index.ts'

/** What collecting the declared artifacts did. */
export interface CollectedArtifacts {
  /** Bundle paths copied (under `artifacts/`). */
  copied: string[]
  /** Declared artifacts (or entries inside a declared directory) left out, and why. */
  skipped: SkippedArtifact[]
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants

/** The user whose rights artifacts are read with: the job's (uid, primary gid; no other groups). */
export interface ArtifactReader {
  uid: number
  gid: number
}

/** What the reader must be allowed to do with an entry: read a file, list or pass a directory. */
const READ = 4
const SEARCH = 1

/**
 * Whether `reader` could itself do `need` (READ, SEARCH or both) on an entry of this owner and
 * mode. The agent may be root, reading a build directory the job controls: without this a job
 * could name (or hard-link) a file only root reads, such as the runner key, and have it published.
 * An owner may chmod, so the owner's own entries always pass; otherwise the group bits count for
 * the job's primary group (jobs run with no supplementary groups) and the other bits for the rest.
 */
function mayAccess(st: Stats, reader: ArtifactReader | undefined, need: number): boolean {
  if (!reader || st.uid === reader.uid) return true
  const bits = st.gid === reader.gid ? (st.mode >> 3) & 7 : st.mode & 7
  return (bits & need) === need
}

/** The bundle's files that are not artifacts: stdout.log, stderr.log, samples.jsonl. */
const BUNDLE_OWN_FILES = 3

/**
 * What is left of the bundle for artifacts. Past the manifest's caps (files, skipped entries) the
 * bundle could never be sealed: the job would stay in the spool, hashed again at every `resume`.
 * A declared directory of 100 000 files or FIFOs stops the walk (`full`) instead, and its declared
 * path is recorded once as `too-large`, in a slot kept for each declared path.
 */
interface Budget {
  bytes: number
  files: number
  /** Skipped entries inside declared directories that may still be recorded. */
  skipRecords: number
  full: boolean
}

/** Records an entry skipped inside a declared directory, while there is room for it. */
function skipInside(out: CollectedArtifacts, budget: Budget, entry: SkippedArtifact): void {
  if (budget.skipRecords <= 0) {
    budget.full = true
    return
  }
  budget.skipRecords--
  out.skipped.push(entry)
}

/** A path naming `name` inside the directory open as `dir`, resolved by the kernel from the fd. */
const at = (dir: FileHandle, name: string) => `/proc/self/fd/${dir.fd}/${name}`

/** Why an entry could not be opened without following a link. */
function refusal(e: unknown): SkippedArtifact['reason'] {
  const code = (e as NodeJS.ErrnoException).code
  // O_NOFOLLOW on a symlink: ELOOP; O_DIRECTORY on a symlink to a directory: ENOTDIR as well.
  if (code === 'ELOOP') return 'symlink'
  if (code === 'ENOENT') return 'missing'
  return 'not-a-file'
}

/**
 * Copies declared artifacts (paths relative to the job's build directory) into
 * `<bundleDir>/artifacts/`. The job controls the build directory, and the agent may be root, so
 * nothing is followed out of it: every path is opened component by component, each relative to
 * the directory opened before it (openat-style, through /proc/self/fd) with O_NOFOLLOW, so a
 * symlink in any component (a trailing slash onto a symlinked directory included), or one swapped
 * in while the agent collects, is refused rather than followed; so is any symlink, FIFO or device
 * inside a declared directory. With `reader` (the job's user when the job ran as one), an entry
 * that user could not read itself is skipped as `unreadable`: the agent reads with more rights
 * than the job. The job's leftover processes are killed before this runs
 * (run/kill-leftovers.ts). Skipped and missing artifacts are reported, not fatal: a failed job
 * often has none. At most `maxBytes` are copied in all (a file that would pass it is skipped as
 * `too-large`), each file no further than the size it had when opened (it may still grow).
 */
export async function collectArtifacts(
  cwd: string,
  paths: readonly string[],
  bundleDir: string,
  reader?: ArtifactReader,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<CollectedArtifacts> {
  const out: CollectedArtifacts = { copied: [], skipped: [] }
  const budget: Budget = {
    bytes: maxBytes,
    files: MAX_MANIFEST_FILES - BUNDLE_OWN_FILES,
    skipRecords: MAX_SKIPPED_ARTIFACTS - paths.length,
    full: false,
  }
  const root = await open(cwd, O_RDONLY | O_DIRECTORY)
  // The build directory as it is now (a link in its path may have been swapped since the job
  // started there): the job's user must be able to reach it, through every directory above it.
  // Its path is the kernel's for the directory opened, never a path resolved before the open: a
  // job process can swap the build directory for a symlink between the two, and the directories
  // checked would not be those above the one opened.
  const top = await readlink(`/proc/self/fd/${root.fd}`)
  const rootStat = await root.stat()
  let rootReachable =
    top.startsWith('/') && !top.endsWith(' (deleted)') && mayAccess(rootStat, reader, SEARCH)
  if (reader) {
    for (let d = dirname(top); rootReachable; d = dirname(d)) {
      rootReachable = mayAccess(await stat(d), reader, SEARCH)
      if (d === dirname(d)) break
    }
    // That path is the one in the mount namespace the directory was reached in: through a
    // symlink to /proc/<pid>/root of a process in a namespace of its own (a PrivateTmp service, a
    // container), it names other directories in the agent's, and those were the ones checked. The
    // path must name, here and after the walk, the very directory opened.
    const named = rootReachable ? await stat(top).catch(() => null) : null
    rootReachable = named !== null && named.dev === rootStat.dev && named.ino === rootStat.ino
  }
  try {
    for (const p of paths) {
      if (budget.full) {
        out.skipped.push({ path: p.slice(0, MAX_BUNDLE_PATH) || '(empty)', reason: 'too-large' })
        continue
      }
      const checked = parseArtifactPath(p)
      if (!checked.ok) {
        out.skipped.push({
          path: p.slice(0, MAX_BUNDLE_PATH) || '(empty)',
          reason: 'outside-build-dir',
        })
        continue
      }
      const segments = p.split('/').filter((s) => s !== '' && s !== '.')
      if (segments.length === 0 || segments.includes('..')) {
        out.skipped.push({ path: p, reason: 'outside-build-dir' })
        continue
      }
      // Walk down to the parent of the last component, one directory fd at a time.
      let dir = root
      let reason: SkippedArtifact['reason'] | undefined = rootReachable ? undefined : 'unreadable'
      for (const s of reason ? [] : segments.slice(0, -1)) {
        try {
          const next = await open(at(dir, s), O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
          if (dir !== root) await dir.close()
          dir = next
          if (!mayAccess(await dir.stat(), reader, SEARCH)) {
            reason = 'unreadable'
            break
          }
        } catch (e) {
          // A symlink to a directory fails O_DIRECTORY|O_NOFOLLOW with ENOTDIR or ELOOP.
          const st = await lstat(at(dir, s)).catch(() => null)
          reason = !st ? 'missing' : st.isSymbolicLink() ? 'symlink' : refusal(e)
          break
        }
      }
      try {
        if (reason) out.skipped.push({ path: p, reason })
        else
          await copyEntry(
            dir,
            segments.at(-1)!,
            segments.join('/'),
            join(bundleDir, 'artifacts'),
            out,
            reader,
            budget,
            p,
          )
        // The walk stopped inside it: one record for the declared path, in its kept slot.
        if (budget.full && !out.skipped.some((s) => s.path === p))
          out.skipped.push({ path: p, reason: 'too-large' })
      } finally {
        if (dir !== root) await dir.close()
      }
    }
  } finally {
    await root.close()
  }
  return out
}

/**
 * Copies `name` inside the open directory `dir` (bundle path `rel`) without following any
 * symlink; reports what it skips under `declared` for the declared path itself, `rel` below it.
 */
async function copyEntry(
  dir: FileHandle,
  name: string,
  rel: string,
  destRoot: string,
  out: CollectedArtifacts,
  reader: ArtifactReader | undefined,
  budget: Budget,
  declared?: string,
): Promise<void> {
  // The declared path itself has a kept slot; entries inside it share what is left.
  const skip = (reason: SkippedArtifact['reason']) =>
    declared !== undefined
      ? out.skipped.push({ path: declared, reason })
      : skipInside(out, budget, { path: rel, reason })
  // Past a manifest's paths (deeper still, past the copy's own path limit): never sealed.
  if (`artifacts/${rel}`.length > MAX_BUNDLE_PATH) {
    if (declared !== undefined) skip('too-large')
    else skipInside(out, budget, { path: rel.slice(0, MAX_BUNDLE_PATH), reason: 'too-large' })
    return
  }
  const st = await lstat(at(dir, name)).catch(() => null)
  if (!st) {
    skip('missing')
    return
  }
  if (st.isSymbolicLink()) {
    skip('symlink')
    return
  }
  // A FIFO would block the agent forever; a device is not the job's output (and opening one can
  // act on it): neither is opened.
  if (!st.isDirectory() && !st.isFile()) {
    skip('not-a-file')
    return
  }
  let fh: FileHandle
  try {
    // O_NOFOLLOW: an entry swapped for a symlink since the lstat is refused, not followed.
    fh = await open(
      at(dir, name),
      O_RDONLY | O_NOFOLLOW | O_NONBLOCK | (st.isDirectory() ? O_DIRECTORY : 0),
    )
  } catch (e) {
    skip(refusal(e))
    return
  }
  try {
    const now = await fh.stat()
    if (now.ino !== st.ino || now.dev !== st.dev) {
      // Swapped between the lstat and the open: not what was checked.
      skip('not-a-file')
    } else if (!mayAccess(now, reader, now.isDirectory() ? READ | SEARCH : READ)) {
      skip('unreadable')
    } else if (now.isDirectory()) {
      await mkdir(join(destRoot, rel), { recursive: true })
      for (const child of (await readdir(`/proc/self/fd/${fh.fd}`)).sort()) {
        if (budget.full) break
        await copyEntry(fh, child, `${rel}/${child}`, destRoot, out, reader, budget)
      }
    } else if (now.isFile() && budget.files <= 0) {
      budget.full = true
    } else if (now.isFile() && now.size > budget.bytes) {
      // Its size, not its blocks: a sparse file is written out in full in the copy.
      skip('too-large')
    } else if (now.isFile()) {
      budget.bytes -= now.size
      budget.files--
      const dest = join(destRoot, rel)
      await mkdir(join(dest, '..'), { recursive: true })
      const target = await open(dest, 'wx', 0o600)
      try {
        // No further than the size counted: a process of the job may still be appending to it.
        if (now.size > 0)
          await pipeline(
            fh.createReadStream({ autoClose: false, start: 0, end: now.size - 1 }),
            target.createWriteStream(),
          )
      } finally {
        await target.close().catch(() => {})
      }
      out.copied.push(`artifacts/${rel}`)
    } else {
      skip('not-a-file')
    }
  } finally {
    await fh.close().catch(() => {})
  }
}

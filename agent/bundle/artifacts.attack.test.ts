import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_BUNDLE_PATH, MAX_MANIFEST_FILES, MAX_SKIPPED_ARTIFACTS } from '../../protocol/index.ts'
import { ensureSystemUser } from '../isolation/job-user.ts'
import { collectArtifacts } from './artifacts.ts'

// Attack (attack10, medium): artifacts are collected by root with the job user's rights, and the
// build directory must be reachable by that user through every directory above it. That check
// read the directories above the build directory's path as `realpath` gave it, then opened the
// path again: a process of the job user (the signer's caller, a GitLab job's leftovers of an
// earlier stage) that swaps the build directory for a symlink between the two has root open
// a directory inside one only root may enter (another job's spool, with its 0644 logs), checked
// as if it were the job's own.

// A job user of this file's own: a shared one could be running a job of another test's.
const jobUser =
  process.getuid?.() === 0 ? ensureSystemUser('zkrunner-test-iso-artifacts') : undefined

const ROUNDS = 400

let base: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'zkrunner-artifacts-attack-'))
  await chmod(base, 0o755)
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

describe.skipIf(jobUser === undefined)(
  'collecting artifacts while the job swaps its directory',
  () => {
    it('never copies a file from a directory the job user cannot reach', {
      timeout: 120_000,
    }, async () => {
      const user = jobUser!
      // Like another job's bundle in the spool: a readable file in a readable directory, under a
      // directory only root enters.
      const secret = join(base, 'data', 'spool', 'other-job')
      await mkdir(secret, { recursive: true, mode: 0o755 })
      await chmod(join(base, 'data'), 0o700)
      await writeFile(join(secret, 'stdout.log'), 'SECRET of another job\n', { mode: 0o644 })

      // The job's build directory, in a directory of its own (it may rename entries there).
      const builds = join(base, 'builds')
      const project = join(builds, 'project')
      await mkdir(project, { recursive: true })
      await writeFile(join(project, 'stdout.log'), 'mine\n')
      await chown(builds, user.uid, user.gid)
      await chown(project, user.uid, user.gid)
      await chown(join(project, 'stdout.log'), user.uid, user.gid)

      // The job's process: the project away, a symlink to the secret directory in its place, the
      // symlink away, the project back; again and again.
      const racer = spawn(
        'perl',
        [
          '-e',
          [
            'chdir $ARGV[0] or exit 1; $| = 1; print "ready\\n"; my $end = time + 100;',
            'while (time < $end) { rename("project", "project.real"); symlink($ARGV[1], "project");',
            '  unlink("project"); rename("project.real", "project"); }',
          ].join(' '),
          builds,
          secret,
        ],
        { uid: user.uid, gid: user.gid, stdio: ['ignore', 'pipe', 'inherit'] },
      )
      await new Promise<void>((resolve) => racer.stdout!.once('data', () => resolve()))
      const exited = new Promise((resolve) => racer.once('exit', resolve))

      let leaked = 0
      let collected = 0
      try {
        for (let i = 0; i < ROUNDS; i++) {
          const bundle = join(base, `bundle-${i}`)
          await mkdir(bundle)
          // Whatever it resolves to at this moment (the symlink, or the project).
          const got = await collectArtifacts(project, ['stdout.log'], bundle, user).catch(
            () => null,
          )
          const copy = join(bundle, 'artifacts', 'stdout.log')
          if (got && existsSync(copy)) {
            collected++
            if ((await readFile(copy, 'utf8')).includes('SECRET')) leaked++
          }
          await rm(bundle, { recursive: true, force: true })
        }
      } finally {
        racer.kill('SIGKILL')
        await exited
      }
      expect(collected, "the job's own artifact is still collected in some rounds").toBeGreaterThan(
        0,
      )
      expect(leaked, 'rounds that copied the secret').toBe(0)
    })
  },
)

// Attack (attack10, medium): a job declares a sparse file of any size as an artifact. It costs the
// job nothing (no blocks), but the agent's copy into the spool is written out in full, then hashed
// and imported into the IPFS store: a job filled the runner's disk. Nothing capped artifact bytes.
describe('an artifact larger than the cap on artifact bytes', () => {
  it('a sparse file past the cap is skipped as too-large, and the bundle stays under the cap', async () => {
    const cwd = join(base, 'sparse-project')
    const bundle = join(base, 'sparse-bundle')
    await mkdir(cwd)
    await mkdir(bundle)
    const cap = 1024 * 1024
    await writeFile(join(cwd, 'big'), '')
    await truncate(join(cwd, 'big'), 256 * cap)
    await writeFile(join(cwd, 'small'), 'ten bytes\n')
    const got = await collectArtifacts(cwd, ['big', 'small'], bundle, undefined, cap)
    expect(got.skipped).toEqual([{ path: 'big', reason: 'too-large' }])
    expect(got.copied).toEqual(['artifacts/small'])
    expect(existsSync(join(bundle, 'artifacts', 'big'))).toBe(false)
    expect((await stat(join(bundle, 'artifacts', 'small'))).size).toBe(10)
  })

  it('the cap counts every file of the job together', async () => {
    const cwd = join(base, 'many-project')
    const bundle = join(base, 'many-bundle')
    await mkdir(join(cwd, 'out'), { recursive: true })
    for (const n of ['a', 'b', 'c']) await writeFile(join(cwd, 'out', n), Buffer.alloc(400))
    const got = await collectArtifacts(cwd, ['out'], bundle, undefined, 1000)
    expect(got.copied).toEqual(['artifacts/out/a', 'artifacts/out/b'])
    expect(got.skipped).toEqual([{ path: 'out/c', reason: 'too-large' }])
  })
})

// Attack (attack10, low): a manifest lists at most MAX_MANIFEST_FILES files and
// MAX_SKIPPED_ARTIFACTS skipped entries. A job that declares a directory of more (empty files,
// FIFOs) had them all copied or recorded: its bundle could never be sealed (BUNDLE_INVALID), and
// every `resume` hashed it all again.
describe('a declared directory of more entries than a manifest lists', () => {
  it('FIFOs past the skipped-entries cap stop the walk: the declared path is recorded too-large', async () => {
    const cwd = join(base, 'fifo-project')
    await mkdir(join(cwd, 'out'), { recursive: true })
    const names = Array.from({ length: MAX_SKIPPED_ARTIFACTS + 100 }, (_, i) => `p${i}`)
    for (let i = 0; i < names.length; i += 200)
      execFileSync('mkfifo', names.slice(i, i + 200), { cwd: join(cwd, 'out') })
    await writeFile(join(cwd, 'kept'), 'kept\n')
    const bundle = join(base, 'fifo-bundle')
    await mkdir(bundle)
    const got = await collectArtifacts(cwd, ['out', 'kept'], bundle)
    expect(got.skipped.length).toBeLessThanOrEqual(MAX_SKIPPED_ARTIFACTS)
    // The walk stopped in `out`: what follows is not walked either, and recorded as such.
    expect(got.skipped.slice(-2)).toEqual([
      { path: 'out', reason: 'too-large' },
      { path: 'kept', reason: 'too-large' },
    ])
    expect(got.copied).toEqual([])
  })

  it('files past the manifest file cap stop the walk: the declared path is recorded too-large', async () => {
    const cwd = join(base, 'files-project')
    await mkdir(join(cwd, 'out'), { recursive: true })
    for (let i = 0; i < MAX_MANIFEST_FILES; i++) await writeFile(join(cwd, 'out', `f${i}`), '')
    const bundle = join(base, 'files-bundle')
    await mkdir(bundle)
    const got = await collectArtifacts(cwd, ['out'], bundle)
    // stdout.log, stderr.log and samples.jsonl are files of the bundle too.
    expect(got.copied.length).toBe(MAX_MANIFEST_FILES - 3)
    expect(got.skipped).toEqual([{ path: 'out', reason: 'too-large' }])
  }, 120_000)
})

// Attack (recheck10, medium): the path the kernel gives for the build directory opened
// (/proc/self/fd) is the path in the mount namespace the directory was reached in. Root follows a
// job's symlink into /proc/<pid>/root of a root process in a namespace of its own (a systemd
// service with PrivateTmp, a container): the directory opened is that namespace's, but its path
// names the agent's own directories, and those were the ones checked. A file the job user could
// never reach (under a directory only root enters) was published.
const canUnshare = (() => {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync('unshare', ['--mount', '--propagation', 'private', 'true'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe.skipIf(jobUser === undefined || !canUnshare)(
  "a build directory reached through another mount namespace's root",
  () => {
    it('is checked where it is, not where its path points in the agent namespace', async () => {
      const user = jobUser!
      // A root service's files: readable by mode, under a directory only root enters.
      const hidden = join(base, 'ns-private')
      const secret = join(hidden, 'tmp')
      await mkdir(secret, { recursive: true, mode: 0o755 })
      await chmod(hidden, 0o700)
      await writeFile(join(secret, 'stdout.log'), 'SECRET of a service\n', { mode: 0o644 })
      // In the service's namespace that directory is mounted where, in the agent's, an empty
      // directory anyone may reach stands (as PrivateTmp mounts its own /tmp over /tmp).
      const view = join(base, 'ns-view')
      await mkdir(view, { mode: 0o755 })
      const service = spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$1" "$2" && echo ready && exec sleep 100',
          'sh',
          secret,
          view,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      const exited = new Promise((resolve) => service.once('exit', resolve))
      try {
        await new Promise<void>((resolve) => service.stdout!.once('data', () => resolve()))
        // The job's build directory, swapped for a symlink into the service's root.
        const builds = join(base, 'ns-builds')
        await mkdir(builds)
        await chown(builds, user.uid, user.gid)
        const project = join(builds, 'project')
        execFileSync('setpriv', [
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          '--clear-groups',
          'ln',
          '-s',
          `/proc/${service.pid}/root${view}`,
          project,
        ])
        const bundle = join(base, 'ns-bundle')
        await mkdir(bundle)
        const got = await collectArtifacts(project, ['stdout.log'], bundle, user)
        expect(existsSync(join(bundle, 'artifacts', 'stdout.log'))).toBe(false)
        expect(got.skipped).toEqual([{ path: 'stdout.log', reason: 'unreadable' }])
      } finally {
        service.kill('SIGKILL')
        await exited
      }
    })
  },
)

// Attack (recheck10, low): a manifest's paths (a bundle file's, a skipped entry's) are at most
// MAX_BUNDLE_PATH characters. A declared directory holding a file deep enough (names the job
// chooses, 200 characters each) had it copied under a longer path: the bundle could never be
// sealed, and every resume hashed it again. Deeper still, making the copy's directories failed
// (ENAMETOOLONG) and the whole collection threw.
describe('an entry of a declared directory deeper than a manifest path holds', () => {
  it('is recorded as too-large, and every path recorded fits the manifest', async () => {
    const cwd = join(base, 'deep-project')
    const bundle = join(base, 'deep-bundle')
    await mkdir(bundle, { recursive: true })
    const long = 'd'.repeat(200)
    const deep = join(cwd, 'out', ...Array.from({ length: 18 }, () => long))
    await mkdir(deep, { recursive: true })
    await writeFile(join(cwd, 'out', long, long, long, long, long, long, 'far'), 'x')
    await writeFile(join(cwd, 'out', 'near'), 'x')
    const got = await collectArtifacts(cwd, ['out'], bundle)
    expect(got.copied).toContain('artifacts/out/near')
    for (const p of got.copied) expect(p.length).toBeLessThanOrEqual(MAX_BUNDLE_PATH)
    for (const s of got.skipped) expect(s.path.length).toBeLessThanOrEqual(MAX_BUNDLE_PATH)
    expect(got.skipped.some((s) => s.reason === 'too-large')).toBe(true)
  })
})

import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureSystemUser } from '../isolation/job-user.ts'
import { makeExecutorBase, runExecutor } from './test-support/executor-cli.ts'

// Attack (review of job scopes, issue 14, medium): every GitLab job of a runner runs as the one
// job user, and GitLab Runner reuses a project's build directory. A job plants a hook in the
// reused checkout's `.git` (it runs in the next job's `git checkout`, as that job, before the
// agent observes anything), or a file in the user's HOME or /tmp (a `.gitconfig`, a poisoned
// cache) that a later job, of another project maybe, picks up.

const execFileP = promisify(execFile)

// A job user of this file's own (a shared one could be running a job of another test's).
const jobUser = process.getuid?.() === 0 ? ensureSystemUser('zkrunner-test-iso-fresh') : undefined

let base: string
beforeAll(async () => {
  base = await makeExecutorBase('zkrunner-fresh-')
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

function executor(
  args: string[],
  jobId: number,
  builds = join(base, 'builds'),
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Plain CI jobs of the same runner, in the build directory GitLab Runner reuses.
  return runExecutor(args, {
    base,
    jobUser: jobUser!,
    jobId,
    builds,
    ciBuildsDir: builds,
    projectDir: join(builds, 'glrt-x', '0', 'group', 'project'),
  })
}

async function job(id: number, script: string): Promise<string> {
  const path = join(base, `stage-${id}.sh`)
  await writeFile(path, script)
  const prepare = await executor(['prepare'], id)
  expect(prepare.code, prepare.stderr).toBe(0)
  const run = await executor(['run', path, 'step_script'], id)
  expect(run.code, run.stderr).toBe(0)
  expect((await executor(['cleanup'], id)).code).toBe(0)
  return run.stdout
}

describe.skipIf(jobUser === undefined)(
  'GitLab executor as the job user: nothing a job wrote reaches the next job',
  { timeout: 300_000 },
  () => {
    it("job B of the same user finds neither A's .git hook in the reused build dir nor A's files in HOME, TMPDIR or /tmp", async () => {
      const a = 930_000_000 + Math.floor(Math.random() * 1_000_000)
      const planted = `/tmp/zkrunner-test-iso-planted-${a}`
      const plantedDir = `/tmp/zkrunner-test-iso-kept-${a}`
      const outA = await job(
        a,
        [
          'set -e',
          'mkdir -p "$CI_PROJECT_DIR/.git/hooks"',
          `printf '#!/bin/sh\\necho pwned\\n' > "$CI_PROJECT_DIR/.git/hooks/post-checkout"`,
          'chmod +x "$CI_PROJECT_DIR/.git/hooks/post-checkout"',
          'echo "home=$HOME"',
          '(echo planted > "$HOME/.gitconfig") 2>/dev/null || true',
          'echo planted > "$' + '{TMPDIR:-/tmp}/planted"',
          `echo planted > ${planted}`,
          // A directory it makes read-only, so that it could not be removed as is.
          `mkdir -p ${plantedDir}/inner && echo planted > ${plantedDir}/inner/f && chmod 500 ${plantedDir}/inner ${plantedDir}`,
          '',
        ].join('\n'),
      )
      // A could write to its HOME (a fresh one, in the builds dir).
      const homeA = /home=(.*)/.exec(outA)?.[1]
      expect(homeA).toBeTruthy()
      expect(existsSync(planted)).toBe(true)

      const outB = await job(
        a + 1,
        [
          'echo "home=$HOME"',
          `for f in "$CI_PROJECT_DIR/.git/hooks/post-checkout" "$CI_PROJECT_DIR/.git" "$HOME/.gitconfig" "\${TMPDIR:-/tmp}/planted" ${planted} ${plantedDir}; do`,
          '  if [ -e "$f" ]; then echo "seen: $f"; fi',
          'done',
          // B has a HOME and a TMPDIR of its own to write to.
          '(echo ok > "$HOME/mine" && echo ok > "$TMPDIR/mine") 2>/dev/null && echo "writable"',
          'true',
          '',
        ].join('\n'),
      )
      expect(outB).not.toContain('seen:')
      expect(outB).toContain('writable')
      expect(existsSync(planted)).toBe(false)
      expect(existsSync(plantedDir)).toBe(false)
    })
  },
)

describe.skipIf(!jobUser)(
  'GitLab executor as the job user: the builds dir and foreign leftovers',
  () => {
    it('a builds dir in /tmp itself (as the local stack has it) is kept, and a leftover holding root files does not stop the next job', async () => {
      const builds = await mkdtemp(join(tmpdir(), 'zkrunner-fresh-builds-'))
      const stale = await mkdtemp(join(tmpdir(), 'zkrunner-fresh-stale-'))
      try {
        // An old runner's builds dir the job user owns, with a directory root made inside it.
        await mkdir(join(stale, 'scripts-1'))
        await writeFile(join(stale, 'scripts-1', 'script'), 'echo old\n')
        await execFileP('chown', [String(jobUser!.uid), stale])
        const prepared = await executor(['prepare'], 9100, builds)
        expect(prepared.code, prepared.stderr).toBe(0)
        expect(existsSync(builds)).toBe(true)
        expect(prepared.stderr).toContain('holding files of another owner')
        expect((await executor(['cleanup'], 9100, builds)).code).toBe(0)
        // And again: the next job starts too.
        const again = await executor(['prepare'], 9101, builds)
        expect(again.code, again.stderr).toBe(0)
        expect(existsSync(builds)).toBe(true)
        expect((await executor(['cleanup'], 9101, builds)).code).toBe(0)
      } finally {
        await rm(builds, { recursive: true, force: true })
        await rm(stale, { recursive: true, force: true })
      }
    })
  },
)

// Attack (lead, ninth session): the builds dir is the job user's, so where its parent lets the
// user rename its own entries (a sticky /tmp, as the local stack has it), a job moves the builds
// dir away and leaves a symlink in its place. The next job's prepare ran as root: it followed the
// link, chowned its target to the job user and emptied it (rm -rf as root of whatever it names).
describe.skipIf(!jobUser)(
  'GitLab executor as the job user: a builds dir swapped for a link',
  () => {
    it("a job's symlink in place of the builds dir never makes the next prepare chown or empty its target", async () => {
      const parent = await mkdtemp(join(tmpdir(), 'zkrunner-fresh-swap-'))
      const victim = await mkdtemp(join(tmpdir(), 'zkrunner-fresh-victim-'))
      try {
        await chmod(parent, 0o1777)
        await writeFile(join(victim, 'precious'), 'root data\n')
        const builds = join(parent, 'builds')
        const id = 940_000_000 + Math.floor(Math.random() * 1_000_000)
        const path = join(base, `stage-swap-${id}.sh`)
        await writeFile(path, `mv ${builds} ${builds}.away && ln -s ${victim} ${builds}\ntrue\n`)
        expect((await executor(['prepare'], id, builds)).code).toBe(0)
        const run = await executor(['run', path, 'step_script'], id, builds)
        expect(run.code, run.stderr).toBe(0)
        expect((await executor(['cleanup'], id, builds)).code).toBe(0)
        const { lstat } = await import('node:fs/promises')
        expect((await lstat(builds)).isSymbolicLink()).toBe(true)

        const next = await executor(['prepare'], id + 1, builds)
        // The target is untouched: still root's, its file still there.
        expect(existsSync(join(victim, 'precious'))).toBe(true)
        expect((await lstat(victim)).uid).toBe(0)
        // And the runner goes on: the link (the job's) is gone, the builds dir a real one again.
        expect(next.code, next.stderr).toBe(0)
        expect((await lstat(builds)).isDirectory()).toBe(true)
        expect((await lstat(builds)).uid).toBe(jobUser!.uid)
        expect((await executor(['cleanup'], id + 1, builds)).code).toBe(0)
      } finally {
        await rm(parent, { recursive: true, force: true })
        await rm(victim, { recursive: true, force: true })
      }
    })
  },
)

// Attack (lead, tenth session): files are not all a job can leave behind. SysV shared memory,
// message queues and semaphores outlive every process of the job (cgroup.kill does not end them),
// and so does a file in /run/lock: a later job of the same user attaches to what it finds there.
describe.skipIf(!jobUser)('GitLab executor as the job user: SysV IPC objects and /run/lock', () => {
  // The id is the second column of each /proc/sysvipc table (`ipcs -i` exits 0 when it is gone).
  const exists = async (table: string, id: string) =>
    (await readFile(`/proc/sysvipc/${table}`, 'utf8'))
      .split('\n')
      .slice(1)
      .some((line) => line.trim().split(/\s+/)[1] === id)

  it("job B of the same user finds none of A's shared memory, queues, semaphores or lock files", async () => {
    const id = 950_000_000 + Math.floor(Math.random() * 1_000_000)
    const lockFile = `/run/lock/zkrunner-planted-${id}`
    const out = await job(id, `ipcmk -M 4096\nipcmk -Q\nipcmk -S 1\necho planted > ${lockFile}\n`)
    const idOf = (what: string) => {
      const m = out.match(new RegExp(`${what} id: (\\d+)`))
      expect(m, out).not.toBeNull()
      return m![1]!
    }
    const planted: [string, string][] = [
      ['shm', idOf('Shared memory')],
      ['msg', idOf('Message queue')],
      ['sem', idOf('Semaphore')],
    ]
    // What the attack relies on: they outlived job A's end.
    for (const [table, n] of planted) expect(await exists(table, n), `${table} ${n}`).toBe(true)
    expect(existsSync(lockFile)).toBe(true)

    const next = await executor(['prepare'], id + 1)
    expect(next.code, next.stderr).toBe(0)
    for (const [table, n] of planted) expect(await exists(table, n), `${table} ${n}`).toBe(false)
    expect(existsSync(lockFile)).toBe(false)
    expect((await executor(['cleanup'], id + 1)).code).toBe(0)
  })
})

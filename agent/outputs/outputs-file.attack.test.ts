import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureSystemUser } from '../isolation/job-user.ts'
import { clearOutputs, OUTPUTS_DIR, OUTPUTS_FILE } from './outputs-file.ts'

// Attack (attack10, high): before a job runs, the agent (root) clears the outputs file an earlier
// job left in the reused build directory, and a directory in its place recursively. Processes of
// the job user run meanwhile: the caller's own under the signer (a GitHub job's shell), a GitLab
// job's leftovers of an earlier stage (a `pre_get_sources_script` hook) until its cleanup. Root's
// recursive removal goes by path names: one of them waits until root unlinks inside a
// subdirectory, then swaps the subdirectory for a symlink, and root's next unlinks of
// `outputs.jsonl/sub/<name>` delete files of any directory.

// A job user of this file's own: a shared one could be running a job of another test's.
const jobUser = process.getuid?.() === 0 ? ensureSystemUser('zkrunner-test-iso-outputs') : undefined

const VICTIMS = 2000

let base: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'zkrunner-outputs-attack-'))
  await chmod(base, 0o755)
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

describe.skipIf(jobUser === undefined)('clearing the outputs file as root', () => {
  it("a job-user process that swaps a subdirectory for a symlink never makes root delete outside the job's directory", async () => {
    const user = jobUser!
    // Root's files, in a directory only root opens: the job cannot even list them.
    const victim = join(base, 'victim')
    await mkdir(victim, { mode: 0o700 })
    const names = Array.from({ length: VICTIMS }, (_, i) => `v${i}`)
    for (const n of names) await writeFile(join(victim, n), 'root only\n')

    // The job's build directory, with a directory where the outputs file goes.
    const cwd = join(base, 'project')
    const sub = join(cwd, OUTPUTS_DIR, OUTPUTS_FILE, 'sub')
    await mkdir(sub, { recursive: true })
    for (const n of names) await writeFile(join(sub, n), '')
    for (const d of [cwd, join(cwd, OUTPUTS_DIR), join(cwd, OUTPUTS_DIR, OUTPUTS_FILE), sub])
      await chown(d, user.uid, user.gid)
    for (const n of names) await chown(join(sub, n), user.uid, user.gid)

    // The job's process: polls the subdirectory's mtime until root unlinks inside it, then moves
    // it aside and leaves a symlink to the victim in its place.
    const racer = spawn(
      'perl',
      [
        '-e',
        [
          'use Time::HiRes qw(stat time); chdir $ARGV[0] or exit 1; $| = 1; print "ready\\n";',
          'my $m0 = (stat "sub")[9]; my $end = time + 20;',
          'while (time < $end) { my $m = (stat "sub")[9];',
          '  if (defined $m && $m != $m0) { rename("sub", "sub.real"); symlink($ARGV[1], "sub"); last } }',
        ].join(' '),
        join(cwd, OUTPUTS_DIR, OUTPUTS_FILE),
        victim,
      ],
      { uid: user.uid, gid: user.gid, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise<void>((resolve) => racer.stdout!.once('data', () => resolve()))
    const exited = new Promise((resolve) => racer.once('exit', resolve))

    await clearOutputs(cwd, user).catch(() => {})
    racer.kill('SIGKILL')
    await exited

    const left = (await readdir(victim)).length
    expect(VICTIMS - left, 'files root deleted through the symlink').toBe(0)
  })

  it('a read-only directory the job left by that name is still cleared, as the job user', async () => {
    const user = jobUser!
    const cwd = join(base, 'readonly')
    const inner = join(cwd, OUTPUTS_DIR, OUTPUTS_FILE, 'inner')
    await mkdir(inner, { recursive: true })
    await writeFile(join(inner, 'f'), 'planted\n')
    for (const p of [cwd, join(cwd, OUTPUTS_DIR), join(cwd, OUTPUTS_DIR, OUTPUTS_FILE), inner])
      await chown(p, user.uid, user.gid)
    await chown(join(inner, 'f'), user.uid, user.gid)
    for (const p of [inner, join(cwd, OUTPUTS_DIR, OUTPUTS_FILE), join(cwd, OUTPUTS_DIR)])
      await chmod(p, 0o500)
    await clearOutputs(cwd, user)
    expect(existsSync(join(cwd, OUTPUTS_DIR, OUTPUTS_FILE))).toBe(false)
  })
})

// Attack (recheck10, low): the job's directory is opened by its path, which a process of the job
// user can have swapped for a symlink to any directory (a GitLab job's leftover of an earlier
// stage, before the sampled stage clears the outputs). A `.zkrunner` there that is not a directory
// was unlinked by root: a job removed any file or symlink of that name, in directories it cannot
// even enter (an operator's `~/.zkrunner` symlink to where the runner key is kept).
describe.skipIf(jobUser === undefined)(
  'clearing the outputs of a directory swapped for a link',
  () => {
    it('never unlinks, as root, a .zkrunner the job user could not have removed', async () => {
      const user = jobUser!
      const home = join(base, 'operator-home')
      await mkdir(home, { mode: 0o700 })
      const { symlink, lstat } = await import('node:fs/promises')
      await symlink('/var/lib/zkrunner-elsewhere', join(home, OUTPUTS_DIR))
      const builds = join(base, 'swap-builds')
      await mkdir(builds)
      await chown(builds, user.uid, user.gid)
      // What the leftover left: the project a symlink to the operator's home.
      await symlink(home, join(builds, 'project'))
      // Refused (the job's own directory it could always clear), and left where it is.
      await expect(clearOutputs(join(builds, 'project'), user)).rejects.toThrow(/could not/)
      expect((await lstat(join(home, OUTPUTS_DIR))).isSymbolicLink()).toBe(true)
    })
  },
)

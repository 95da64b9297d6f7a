import { spawn } from 'node:child_process'
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureSystemUser } from '../isolation/job-user.ts'
import { prepareBuildsDir } from './builds-dir.ts'
import { freshJobFiles } from './fresh-job-files.ts'

// Attack (recheck10): prepare empties the builds dir as root, by path names, on the ground that
// no process of the job user runs then. The builds dir keeps whatever mode it has: a job can make
// it 0777, and a process of another user (another runner's job user, whose jobs run meanwhile)
// then fills it with a subdirectory and swaps that subdirectory for a symlink once root is
// unlinking inside it: root's next unlinks land in any directory.

const isRoot = process.getuid?.() === 0
const jobUser = isRoot ? ensureSystemUser('zkrunner-test-iso-bdir') : undefined
const otherUser = isRoot ? ensureSystemUser('zkrunner-test-iso-bdir2') : undefined

const VICTIMS = 300
const ROUNDS = 10

let base: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'zkrunner-builds-dir-attack-'))
  await chmod(base, 0o755)
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

describe.skipIf(!jobUser || !otherUser)('emptying a builds dir another user may write', () => {
  it("another user's process never makes root delete outside the builds dir", {
    timeout: 60_000,
  }, async () => {
    let deleted = 0
    for (let round = 0; round < ROUNDS; round++) {
      const victim = join(base, `victim-${round}`)
      await mkdir(victim, { mode: 0o700 })
      const names = Array.from({ length: VICTIMS }, (_, i) => `v${i}`)
      for (const n of names) await writeFile(join(victim, n), 'root only\n')
      const builds = join(base, `builds-${round}`)
      await prepareBuildsDir(builds, jobUser!, () => {})
      // What an earlier job of the user left: its builds dir open to everyone.
      await chmod(builds, 0o777)

      const racer = [
        'use Time::HiRes qw(stat time); chdir $ARGV[0] or exit; mkdir "sub" or exit;',
        'for my $i (0..299) { open(my $f, ">", "sub/v$i"); close $f }',
        '$| = 1; print "ready\\n";',
        'my $m0 = (stat "sub")[9]; my $end = time + 20;',
        'while (time < $end) { my $m = (stat "sub")[9];',
        '  if (!defined $m || $m != $m0) { rename("sub", "sub.real"); symlink($ARGV[1], "sub"); last } }',
      ].join(' ')
      const other = spawn('perl', ['-e', racer, builds, victim], {
        uid: otherUser!.uid,
        gid: otherUser!.gid,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const exited = new Promise((resolve) => other.once('exit', resolve))
      try {
        await new Promise<void>((resolve) => other.stdout!.once('data', () => resolve()))
        // The removal itself, on the builds dir as the job left it: prepare's reset of its mode
        // (tested below) is a second guard, which a process of the other user that had entered
        // a subdirectory of its own before would get past (it swaps entries there instead).
        await freshJobFiles(builds, jobUser!).catch(() => {})
      } finally {
        other.kill('SIGKILL')
        await exited
      }
      deleted += VICTIMS - (await readdir(victim)).length
    }
    expect(deleted, 'files root deleted through the symlink').toBe(0)
  })

  it('prepare gives the builds dir back its mode: only the job user enters it', async () => {
    const builds = join(base, 'builds-mode')
    await prepareBuildsDir(builds, jobUser!, () => {})
    await chmod(builds, 0o777)
    await prepareBuildsDir(builds, jobUser!, () => {})
    const st = await lstat(builds)
    expect(st.mode & 0o7777).toBe(0o700)
    expect(st.uid).toBe(jobUser!.uid)
  })
})

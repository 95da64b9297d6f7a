import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeExecutorBase, runExecutor } from '../executor/test-support/executor-cli.ts'
import { ensureSystemUser } from './job-user.ts'

// Attack (attack10, high): each stage script runs from a copy in a temporary directory the agent
// (root) made, and removed recursively when the stage ends. The directory was given to the job
// user, and a plain stage's leftovers run on until the job's cleanup: a leftover fills the
// directory with a subdirectory and keeps swapping that subdirectory for a symlink to any
// directory. Root's recursive removal goes by path names (lstat, readdir, unlink of
// `<dir>/sub/<name>`), so a name looked up while the symlink stands resolves through it: root
// unlinked files of a directory the job cannot even read (293 of 300 in a run on the old code).

// A job user of this file's own: a shared one could be running a job of another test's.
const jobUser = process.getuid?.() === 0 ? ensureSystemUser('zkrunner-test-iso-script') : undefined

const VICTIMS = 300

let base: string
beforeAll(async () => {
  base = await makeExecutorBase('zkrunner-stage-script-')
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

function executor(
  args: string[],
  jobId: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // A plain CI job (no ZKRUNNER_JOB_ID): any job the runner takes can do this.
  const builds = join(base, 'builds')
  return runExecutor(args, {
    base,
    jobUser: jobUser!,
    jobId,
    ciBuildsDir: builds,
    projectDir: join(builds, 'group', 'project'),
  })
}

describe.skipIf(jobUser === undefined)(
  "a stage script's directory as the job user: root's removal of it",
  { timeout: 120_000 },
  () => {
    it('a leftover that swaps a subdirectory for a symlink never makes root delete outside it', async () => {
      // Root's files, in a directory only root opens: the job cannot even list them.
      const victim = join(base, 'victim')
      await mkdir(victim, { mode: 0o700 })
      const names = Array.from({ length: VICTIMS }, (_, i) => `v${i}`)
      for (const n of names) await writeFile(join(victim, n), 'root only\n')

      // The leftover waits, polling the subdirectory's mtime, until root starts unlinking inside
      // it; then it moves the subdirectory aside and leaves a symlink to the victim in its place.
      // Root's remaining unlinks of `<dir>/sub/<name>` go through the symlink.
      const racer = [
        'use Time::HiRes qw(stat time); chdir $ARGV[0] or exit;',
        'my $m0 = (stat "sub")[9]; my $end = time + 20;',
        'while (time < $end) { my $m = (stat "sub")[9];',
        '  if (defined $m && $m != $m0) { rename("sub", "sub.real"); symlink($ARGV[1], "sub"); last } }',
      ].join(' ')
      const script = join(base, 'stage.sh')
      await writeFile(
        script,
        [
          'd=$(dirname "$0")',
          'mkdir "$d/sub" || exit 1',
          `for n in ${names.join(' ')}; do : > "$d/sub/$n"; done`,
          `setsid perl -e '${racer}' "$d" ${victim} </dev/null >/dev/null 2>&1 &`,
          'sleep 0.3',
          '',
        ].join('\n'),
      )
      const id = 940_000_000 + Math.floor(Math.random() * 1_000_000)
      const prepare = await executor(['prepare'], id)
      expect(prepare.code, prepare.stderr).toBe(0)
      // A plain stage: the leftover outlives it, so it races the removal of the script's copy.
      await executor(['run', script, 'after_script'], id)
      const cleanup = await executor(['cleanup'], id)
      expect(cleanup.code, cleanup.stderr).toBe(0)

      const left = (await readdir(victim)).length
      expect(VICTIMS - left, 'files root deleted through the symlink').toBe(0)
    })
  },
)

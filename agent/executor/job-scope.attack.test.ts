import { existsSync, readFileSync } from 'node:fs'
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureSystemUser } from '../isolation/job-user.ts'
import { makeExecutorBase, runExecutor } from './test-support/executor-cli.ts'

// Attack (review of the GitLab custom executor, issue 14): every GitLab job of a runner runs as
// the one job user. A job's stage leaves a process behind with `setsid` and a scrubbed
// environment; GitLab Runner kills nothing it does not know of. Without a job scope the leftover
// lives on as the job user into the next jobs (any project's), where it can rewrite their checkout
// and outputs before the agent signs them, or watch them; and two jobs of the user at once can do
// the same to each other. Any GitLab job can do it, zkrunner's or a plain CI job on the same runner.

// A job user of this file's own, made when missing: a user other tests (or a local stack) share
// could be running a job of theirs, and a job user runs one job at a time. Only root can switch
// users, so only root runs these.
const jobUser = process.getuid?.() === 0 ? ensureSystemUser('zkrunner-test-exec') : undefined

let base: string
const leftovers: number[] = []
beforeAll(async () => {
  base = await makeExecutorBase('zkrunner-exec-scope-')
  await mkdir(join(base, 'project'), { mode: 0o755 })
  if (jobUser) await chown(join(base, 'project'), jobUser.uid, jobUser.gid)
})
afterAll(async () => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  await rm(base, { recursive: true, force: true })
})

function executor(
  args: string[],
  jobId: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // A plain CI job (no ZKRUNNER_JOB_ID): any job the runner takes.
  const projectDir = join(base, 'project')
  return runExecutor(args, { base, jobUser: jobUser!, jobId, projectDir, cwd: projectDir })
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return false
  }
}

describe.skipIf(jobUser === undefined)(
  'GitLab executor as the job user: leftovers and concurrent jobs',
  { timeout: 300_000 },
  () => {
    it("a job's leftover (setsid, no environment) blocks the next job until the job's cleanup ends it", async () => {
      const first = 900_000_000 + Math.floor(Math.random() * 1_000_000)
      const pidFile = join(base, 'project', 'leftover.pid')
      const script = join(base, 'stage.sh')
      await writeFile(
        script,
        `env -i setsid sleep 600 </dev/null >/dev/null 2>&1 &\necho $! > ${pidFile}\n`,
      )
      expect((await executor(['prepare'], first)).code).toBe(0)
      const run = await executor(['run', script, 'after_script'], first)
      expect(run.code, run.stderr).toBe(0)
      const pid = Number(await readFile(pidFile, 'utf8'))
      leftovers.push(pid)
      expect(pid).toBeGreaterThan(1)
      expect(running(pid)).toBe(true)

      // The next job (another project's, say) while the leftover runs: refused before it runs.
      const second = first + 1
      const busy = await executor(['prepare'], second)
      expect(busy.code).toBe(38)
      expect(busy.stderr).toMatch(/JOB_USER_BUSY|another job's processes are running/)
      const sneak = await executor(['run', '/bin/true', 'step_script'], second)
      expect(sneak.code).toBe(38)

      // The first job's cleanup ends all of it; then the next job may start.
      const cleanup = await executor(['cleanup'], first)
      expect(cleanup.code, cleanup.stderr).toBe(0)
      expect(running(pid)).toBe(false)
      const again = await executor(['prepare'], second)
      expect(again.code, again.stderr).toBe(0)
      expect((await executor(['cleanup'], second)).code).toBe(0)
    })

    it('a job whose scope another job took between two of its stages is refused at its next stage, never run after it', async () => {
      const a = 910_000_000 + Math.floor(Math.random() * 1_000_000)
      const b = a + 1
      const marker = join(base, 'project', `ran-${a}`)
      const script = join(base, `stage-${a}.sh`)
      await writeFile(script, `touch ${marker}\n`)
      expect((await executor(['prepare'], a)).code).toBe(0)
      // Between A's stages nothing of A runs: B (started beside it, against the runner's
      // limit) claims the user and could change A's checkout as that user meanwhile.
      expect((await executor(['prepare'], b)).code).toBe(0)
      const late = await executor(['run', script, 'step_script'], a)
      expect(late.code).toBe(38)
      expect(late.stderr).toMatch(/JOB_USER_BUSY/)
      expect(existsSync(marker)).toBe(false)
      expect((await executor(['cleanup'], b)).code).toBe(0)
      expect((await executor(['cleanup'], a)).code).toBe(0)
    })

    it("a job that names a running job's CI_JOB_ID is refused at prepare, never let into that job's scope", async () => {
      // CI_JOB_ID and CI_PROJECT_DIR reach the executor as CUSTOM_ENV_ variables, and a job's own
      // `variables:` can override predefined ones (GitLab Runner takes the last value of a key):
      // job B sets both to those of job A, which is running. B's prepare must not find A's scope
      // and run beside A as the same user (and B's cleanup would end A).
      const a = 920_000_000 + Math.floor(Math.random() * 1_000_000)
      const pidFile = join(base, 'project', `a-${a}.pid`)
      const script = join(base, `stage-a-${a}.sh`)
      await writeFile(
        script,
        `env -i setsid sleep 600 </dev/null >/dev/null 2>&1 &\necho $! > ${pidFile}\n`,
      )
      expect((await executor(['prepare'], a)).code).toBe(0)
      const run = await executor(['run', script, 'step_script'], a)
      expect(run.code, run.stderr).toBe(0)
      const pid = Number(await readFile(pidFile, 'utf8'))
      leftovers.push(pid)
      expect(running(pid)).toBe(true)

      const b = await executor(['prepare'], a)
      expect(b.code).toBe(38)
      expect(b.stderr).toMatch(/another job's processes are running/)

      expect((await executor(['cleanup'], a)).code).toBe(0)
      expect(running(pid)).toBe(false)
    })
  },
)

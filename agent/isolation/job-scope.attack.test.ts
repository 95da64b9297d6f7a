import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { AgentErrorCode } from '../errors.ts'
import { findJobScope, openJobScope, processesOf, unifiedCgroupRoot } from './job-scope.ts'
import { userHasProcesses } from './user-processes.ts'

// Attack (review of job scopes, issue 14): on a host without cgroup v2 the job's scope is every
// process of the job user, found by listing /proc and killed pid by pid. A job that hops from pid
// to pid (fork, then the parent exits, in a loop) is never under one pid long enough to be listed
// and signalled: the end finds "nothing running", frees the user for the next job, and the hopper
// lives on as the job user beside it (it can rewrite that job's checkout and outputs before they
// are signed). One line of perl or shell does it, no privilege needed.

const uids: number[] = []
afterEach(() => {
  // Whatever a failing run left: kill(-1) as the user reaches every process of it at once.
  for (const uid of uids.splice(0)) spawnSync('/bin/sh', ['-c', 'kill -KILL -1'], { uid })
})

function unusedUser() {
  for (;;) {
    const uid = 1_700_000_000 + Math.floor(Math.random() * 100_000_000)
    if (processesOf(uid).length === 0) return { name: `u${uid}`, uid }
  }
}

/**
 * Four hoppers as `uid`, left by nothing that will end them (a job whose end never ran: an agent
 * that crashed), resolved once each has hopped 1,000 times (it says so on the pipe). Every
 * generation holds the write end of the pipe: `gone` resolves once all of them are.
 */
async function hoppers(uid: number): Promise<{ gone: Promise<boolean> }> {
  const hopper = spawn(
    '/usr/bin/perl',
    ['-e', 'fork; fork; $| = 1; while (1) { exit 0 if fork; print "h" if ++$n == 1000 }'],
    { uid, gid: uid, stdio: ['ignore', 'pipe', 'ignore'], detached: true },
  )
  let said = 0
  const hopping = new Promise<void>((r) =>
    hopper.stdout!.on('data', (b: Buffer) => {
      said += b.length
      if (said >= 4) r()
    }),
  )
  const gone = new Promise<boolean>((r) => hopper.stdout!.once('close', () => r(true)))
  await hopping
  return { gone }
}

describe.skipIf(process.getuid?.() !== 0 || !existsSync('/usr/bin/perl'))(
  'job scopes without cgroup v2, against a job that hops from pid to pid',
  () => {
    it("the end of a job's scope kills processes that fork and exit in a loop", async () => {
      const user = unusedUser()
      uids.push(user.uid)
      const { gone } = await hoppers(user.uid)
      // The listing the end relies on does not see it, though it runs.
      await findJobScope(user, 'gitlab-5', { cgroupRoot: null }).end()
      // A bound on a kill that did not happen, not a wait for one.
      const bound = new Promise<boolean>((r) => setTimeout(() => r(false), 20_000).unref())
      expect(await Promise.race([gone, bound])).toBe(true)
      expect(processesOf(user.uid)).toEqual([])
      // The kernel's own count agrees: the end returned only once it was zero.
      expect(await userHasProcesses(user)).toBe(false)
    })

    // The medium finding of the review: the claim's idle check listed /proc, so the next job was
    // given a user whose hoppers were still running beside it.
    it('a job user is not claimed while processes hop from pid to pid as it (the kernel counts them)', async () => {
      const user = unusedUser()
      uids.push(user.uid)
      const { gone } = await hoppers(user.uid)
      await expect(openJobScope(user, 'gitlab-6', { cgroupRoot: null })).rejects.toMatchObject({
        code: AgentErrorCode.JOB_USER_BUSY,
      })
      await findJobScope(user, 'gitlab-6', { cgroupRoot: null }).end()
      expect(await gone).toBe(true)
      // Once they are gone the user is claimed.
      await (await openJobScope(user, 'gitlab-6', { cgroupRoot: null })).end()
    })
  },
)

const cgroupRoot = unifiedCgroupRoot()
describe.skipIf(cgroupRoot === null || !existsSync('/usr/bin/perl'))(
  'job scopes on cgroup v2, against processes hopping outside any job scope',
  () => {
    it('a job user is not claimed while processes of it hop from pid to pid outside the scopes', async () => {
      const user = unusedUser()
      uids.push(user.uid)
      const { gone } = await hoppers(user.uid)
      await expect(openJobScope(user, 'gitlab-7', { fresh: true })).rejects.toMatchObject({
        code: AgentErrorCode.JOB_USER_BUSY,
      })
      // Outside any cgroup scope, only the user's kill reaches them (what the fallback does).
      await findJobScope(user, 'gitlab-7', { cgroupRoot: null }).end()
      expect(await gone).toBe(true)
      const scope = await openJobScope(user, 'gitlab-7', { fresh: true })
      await scope.end()
    })
  },
)

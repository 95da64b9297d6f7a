import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { findJobScope, processesOf } from './job-scope.ts'

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

describe.skipIf(process.getuid?.() !== 0 || !existsSync('/usr/bin/perl'))(
  'job scopes without cgroup v2, against a job that hops from pid to pid',
  () => {
    it("the end of a job's scope kills processes that fork and exit in a loop", async () => {
      const user = unusedUser()
      uids.push(user.uid)
      // Four hoppers at once. Every generation holds the write end of this pipe: it reads
      // end-of-file once all of them are gone.
      const hopper = spawn('/usr/bin/perl', ['-e', 'fork; fork; while (1) { exit 0 if fork }'], {
        uid: user.uid,
        gid: user.uid,
        stdio: ['ignore', 'pipe', 'ignore'],
        detached: true,
      })
      const gone = new Promise<boolean>((r) => {
        hopper.stdout!.resume()
        hopper.stdout!.once('close', () => r(true))
      })
      await new Promise((r) => hopper.once('spawn', r))
      // The listing the end relies on does not see it, though it runs.
      await findJobScope(user, 'gitlab-5', { cgroupRoot: null }).end()
      // A bound on a kill that did not happen, not a wait for one.
      const bound = new Promise<boolean>((r) => setTimeout(() => r(false), 20_000).unref())
      expect(await Promise.race([gone, bound])).toBe(true)
      expect(processesOf(user.uid)).toEqual([])
    })
  },
)

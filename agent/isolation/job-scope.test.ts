import { spawn } from 'node:child_process'
import { mkdir, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { AgentErrorCode } from '../errors.ts'
import {
  findJobScope,
  type JobScope,
  openJobScope,
  processesOf,
  spawnInScope,
  unifiedCgroupRoot,
} from './job-scope.ts'

// A job user's scopes on the real cgroup v2 hierarchy (root only), for a uid no process runs as.

const root = unifiedCgroupRoot()
const opened: JobScope[] = []
const users: number[] = []
afterEach(async () => {
  for (const s of opened.splice(0)) await s.end().catch(() => {})
  // The made-up users' directories of scopes, emptied above.
  for (const uid of users.splice(0))
    if (root) await rmdir(join(root, 'zkrunner-jobs', `uid-${uid}`)).catch(() => {})
})

function unusedUser() {
  for (;;) {
    const uid = 1_600_000_000 + Math.floor(Math.random() * 100_000_000)
    if (processesOf(uid).length > 0) continue
    users.push(uid)
    return { name: `u${uid}`, uid }
  }
}

/** Starts `sleep 600` as the scope's user inside it; resolves once it runs there. */
async function sleeper(scope: JobScope): Promise<number> {
  const child = spawnInScope(scope, ['sleep', '600'], {
    uid: scope.user.uid,
    gid: scope.user.uid,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  await new Promise((r) => child.once('spawn', r))
  return child.pid!
}

describe.skipIf(root === null)('job scopes on cgroup v2', () => {
  it("a job user's next job is refused while a job's scope holds a process, and claimed once it has ended", async () => {
    const user = unusedUser()
    const a = await openJobScope(user, 'gitlab-1')
    opened.push(a)
    await sleeper(a)
    await expect(openJobScope(user, 'gitlab-2')).rejects.toMatchObject({
      code: AgentErrorCode.JOB_USER_BUSY,
    })
    // The same job's later stage finds its own scope.
    expect((await openJobScope(user, 'gitlab-1')).cgroup).toBe(a.cgroup)
    expect(await a.end()).toBe(1)
    expect(processesOf(user.uid)).toEqual([])
    opened.push(await openJobScope(user, 'gitlab-2'))
  })

  it("a scope left empty by a job that never ended it is cleared; a job's process in a child cgroup of its own scope is its own", async () => {
    const user = unusedUser()
    const stale = await openJobScope(user, 'github-7-1')
    const next = await openJobScope(user, 'github-8-1')
    opened.push(next)
    expect(next.cgroup).not.toBe(stale.cgroup)
    // The sampler's cgroup of a job is a child of the job's scope (on a pure cgroup v2 host).
    await sleeper(next)
    const child = join(next.cgroup!, 'sampling')
    await mkdir(child)
    const [pid] = processesOf(user.uid)
    await writeFile(join(child, 'cgroup.procs'), String(pid))
    expect((await openJobScope(user, 'github-8-1')).cgroup).toBe(next.cgroup)
    // The end reaches it there too, and removes the child cgroup with the scope.
    expect(await next.end()).toBe(1)
    expect(processesOf(user.uid)).toEqual([])
  })

  it('a process the job started before it was moved does not exist: the gate holds the command until it is in the scope', async () => {
    const user = unusedUser()
    const scope = await openJobScope(user, 'github-9-1')
    opened.push(scope)
    const child = spawnInScope(scope, ['sh', '-c', 'cat /proc/self/cgroup'], {
      uid: user.uid,
      gid: user.uid,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
    })
    await new Promise((r) => child.once('close', r))
    expect(out).toContain(`0::/${scope.cgroup!.slice(root!.length + 1)}`)
  })
})

describe.skipIf(process.getuid?.() !== 0)('job scopes without cgroup v2', () => {
  it('every process of the job user is the scope: the next job is refused while one runs, and the end kills them all, setsid or not', async () => {
    const user = unusedUser()
    const stray = spawn('setsid', ['sleep', '600'], {
      uid: user.uid,
      gid: user.uid,
      stdio: 'ignore',
    })
    await new Promise((r) => stray.once('spawn', r))
    await expect(openJobScope(user, 'gitlab-3', { cgroupRoot: null })).rejects.toMatchObject({
      code: AgentErrorCode.JOB_USER_BUSY,
    })
    expect(await findJobScope(user, 'gitlab-3', { cgroupRoot: null }).end()).toBeGreaterThan(0)
    expect(processesOf(user.uid)).toEqual([])
    opened.push(await openJobScope(user, 'gitlab-3', { cgroupRoot: null }))
  })
})

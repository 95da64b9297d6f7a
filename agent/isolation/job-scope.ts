import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, watch } from 'node:fs'
import { mkdir, rmdir, writeFile } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { join, relative } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { userHasProcesses } from './user-processes.ts'

/** Who a job runs as: the scope is that user's, one job at a time. */
export interface ScopeUser {
  name: string
  uid: number
  /** Its primary group, which the fallback's killer runs with (else nogroup, never root's). */
  gid?: number
}

/**
 * Everything one job started, kept together so that nothing of it outlives the job, whatever it
 * does to its environment, session or process group: a cgroup v2 of its own (ended with
 * `cgroup.kill`), or, on a host without one, every process of the job user (ended by killing
 * them all; which is why a job user runs one job at a time).
 */
export interface JobScope {
  user: ScopeUser
  /** The job's cgroup v2 directory, or null when the scope is the job user's processes. */
  cgroup: string | null
  /** Moves a process into the scope before it runs any job code (a no-op without a cgroup). */
  enter(pid: number): Promise<void>
  /**
   * Kills every process of the job and waits until they are gone, then frees the job user for the
   * next job. Returns how many processes were still running.
   */
  end(): Promise<number>
}

/** Where job scopes are made: the cgroup v2 hierarchy, or none (the user's processes are the scope). */
export interface ScopeOptions {
  /**
   * The cgroup v2 mount (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid host); null
   * forces the fallback. Found from `/proc/self/mounts` when not given.
   */
  cgroupRoot?: string | null
}

/** How a job claims its user: where (ScopeOptions), and whether its scope must be new. */
export interface ClaimOptions extends ScopeOptions {
  /**
   * The job's first claim (GitLab's prepare): a scope of the same key that exists already is
   * another job's under the same id (a job can set its own CI_JOB_ID), refused, never shared.
   */
  fresh?: boolean
}

/** A job's name as a directory: its provider and id, nothing that could climb out. */
const SCOPE_KEY = /^[a-z0-9][a-z0-9-]{0,63}$/

/**
 * The cgroup v2 mount where jobs can get a scope: mounted, writable by us (root), and new enough to
 * have `cgroup.kill` (Linux 5.14). Null otherwise; the fallback is then the job user's processes.
 */
export function unifiedCgroupRoot(mounts = readMounts()): string | null {
  if (process.getuid?.() !== 0) return null
  for (const line of mounts.split('\n')) {
    const [, dir, type] = line.split(' ')
    if (type !== 'cgroup2' || !dir) continue
    // The root cgroup has no cgroup.kill; a child of it does when the kernel has one.
    if (!existsSync(join(dir, 'cgroup.procs'))) continue
    if (!kernelHasCgroupKill()) return null
    return dir.replace(/\\040/g, ' ')
  }
  return null
}

function readMounts(): string {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
  } catch {
    return ''
  }
}

/** `cgroup.kill` arrived in Linux 5.14. */
function kernelHasCgroupKill(): boolean {
  let release = ''
  try {
    release = readFileSync('/proc/sys/kernel/osrelease', 'utf8')
  } catch {
    return false
  }
  const [major = 0, minor = 0] = release.split('.').map((n) => Number.parseInt(n, 10))
  return major > 5 || (major === 5 && minor >= 14)
}

/** Pids of every process running as `uid` (zombies excluded: they run nothing). */
export function processesOf(uid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSafe('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid <= 0) continue
    try {
      if (statSync(`/proc/${pid}`).uid !== uid) continue
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue
      out.push(pid)
    } catch {}
  }
  return out
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

function populated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'))
  } catch {
    return false
  }
}

/** The directory holding the job cgroups of one job user. */
function userDir(root: string, user: ScopeUser): string {
  return join(root, 'zkrunner-jobs', `uid-${user.uid}`)
}

/** Why a user with no listed process is busy: the kernel counts processes /proc never showed. */
const UNLISTED =
  'the kernel counts processes of the user that /proc does not list, such as one hopping from pid to pid'

function busy(user: ScopeUser, why: string): AgentError {
  return new AgentError(
    AgentErrorCode.JOB_USER_BUSY,
    `another job's processes are running as ${user.name} (${why}): a job user runs one job at a time, so a job cannot reach another's files or processes; run one runner per job user, one job at a time (GitLab: limit = 1; GitHub: --ephemeral)`,
  )
}

/**
 * The kernel's count of the user's processes beyond `allowed`, given a moment to settle: a process
 * just killed (the previous job's end) still counts until the kernel has torn it down and its
 * parent, init for a setsid'd leftover, has reaped it, which /proc no longer shows. One that keeps
 * hopping from pid to pid is still counted after the wait, and refused.
 */
async function countedAfterSettling(
  user: ScopeUser,
  allowed: () => number = () => 0,
): Promise<boolean> {
  for (let i = 0; ; i++) {
    if (!(await userHasProcesses(user, allowed()))) return false
    if (i >= SETTLE_TRIES) return true
    await delay(SETTLE_GAP_MS)
  }
}
const SETTLE_TRIES = 10
const SETTLE_GAP_MS = 200

/**
 * Claims the job user for the job `key` and opens its scope. Refused (JOB_USER_BUSY) while any
 * process of another job of that user is running, so no job starts beside another job's code or
 * its leftovers. Another job's scope that holds nothing is cleared: left by a job that ended
 * without `end` (a crash), or of a job between two of its stages, which findJobScope then refuses
 * at its next stage (it may not go on after a job that could have changed its files). Claiming
 * the same key again finds the same scope, unless `fresh`.
 */
export async function openJobScope(
  user: ScopeUser,
  key: string,
  opts: ClaimOptions = {},
): Promise<JobScope> {
  if (!SCOPE_KEY.test(key))
    throw new AgentError(AgentErrorCode.INVALID_CONFIG, `job scope ${JSON.stringify(key)}: invalid`)
  const root = opts.cgroupRoot === undefined ? unifiedCgroupRoot() : opts.cgroupRoot
  if (root === null) {
    const running = processesOf(user.uid)
    if (running.length > 0) throw busy(user, `pids ${running.slice(0, 5).join(' ')}`)
    // The kernel's count: a process hopping from pid to pid is never listed, always counted.
    if (await countedAfterSettling(user)) throw busy(user, UNLISTED)
    return userScope(user)
  }
  const dir = userDir(root, user)
  await mkdir(dir, { recursive: true })
  const mine = join(dir, key)
  for (const other of readdirSafe(dir)) {
    const path = join(dir, other)
    if (other === key || !statSafe(path)?.isDirectory()) continue
    if (populated(path)) throw busy(user, `job ${other}`)
    await removeCgroupTree(path).catch(() => {})
  }
  // A process of the user outside any job scope (started before, or by something else) could
  // reach this job just the same.
  const outside = processesOf(user.uid).filter((pid) => !inCgroup(pid, root, mine))
  if (outside.length > 0) throw busy(user, `pids ${outside.slice(0, 5).join(' ')}`)
  // And by the kernel's count, which a process hopping from pid to pid cannot hide from: the
  // user has no process beyond those of this job's own scope (none when it is new).
  if (await countedAfterSettling(user, () => userProcsInTree(mine, user.uid)))
    throw busy(user, UNLISTED)
  await mkdir(mine).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e
    if (opts.fresh) throw busy(user, `job ${key} has a scope already: another job of that id`)
  })
  // Two jobs claiming at once both see the other's directory now: both are refused, neither runs.
  const others = readdirSafe(dir).filter((d) => d !== key && statSafe(join(dir, d))?.isDirectory())
  if (others.length > 0) {
    await rmdir(mine).catch(() => {})
    throw busy(user, `job ${others[0]}`)
  }
  return cgroupScope(user, mine)
}

/** The job scopes of `user` that hold a process now (a stage's agent, or the job's own). */
export function busyJobScopesOf(user: ScopeUser, opts: ScopeOptions = {}): string[] {
  const root = opts.cgroupRoot === undefined ? unifiedCgroupRoot() : opts.cgroupRoot
  if (root === null) return []
  const dir = userDir(root, user)
  return readdirSafe(dir).filter((d) => populated(join(dir, d)))
}

/**
 * The scope `openJobScope` opened for `key` (a later stage of the same job, another process):
 * refused when it is gone (another job cleared it, so this one must not go on).
 */
export function findJobScope(user: ScopeUser, key: string, opts: ScopeOptions = {}): JobScope {
  if (!SCOPE_KEY.test(key))
    throw new AgentError(AgentErrorCode.INVALID_CONFIG, `job scope ${JSON.stringify(key)}: invalid`)
  const root = opts.cgroupRoot === undefined ? unifiedCgroupRoot() : opts.cgroupRoot
  if (root === null) return userScope(user)
  const mine = join(userDir(root, user), key)
  if (!statSafe(mine)?.isDirectory())
    throw busy(user, `the scope of job ${key} is gone: another job claimed ${user.name}`)
  return cgroupScope(user, mine)
}

function statSafe(path: string) {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

/** Whether `pid` is in the cgroup `dir` of the hierarchy mounted at `root`, or below it. */
function inCgroup(pid: number, root: string, dir: string): boolean {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
  } catch {
    return false
  }
  const path = /^0::(.*)$/m.exec(text)?.[1]
  if (path === undefined) return false
  const rel = `/${relative(root, dir)}`
  return path === rel || path.startsWith(`${rel}/`)
}

function cgroupScope(user: ScopeUser, dir: string): JobScope {
  return {
    user,
    cgroup: dir,
    enter: (pid) => writeFile(join(dir, 'cgroup.procs'), String(pid)),
    async end() {
      const running = procsInTree(dir)
      // One write kills the whole cgroup, forks in flight included: nothing escapes by setsid,
      // a new process group or an environment without the runner's tracking variable.
      if (populated(dir)) {
        await writeFile(join(dir, 'cgroup.kill'), '1')
        await untilEmpty(dir)
      }
      await removeCgroupTree(dir)
      return running
    },
  }
}

/** How many processes a cgroup and the cgroups under it hold. */
function procsInTree(dir: string): number {
  let n = readFileSafe(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).length
  for (const entry of readdirSafe(dir)) {
    const sub = join(dir, entry)
    if (statSafe(sub)?.isDirectory()) n += procsInTree(sub)
  }
  return n
}

/**
 * How many processes of real uid `uid` a cgroup and the cgroups under it hold (a stage's agent in
 * the scope is root's, and the kernel's count of the user does not include it).
 */
function userProcsInTree(dir: string, uid: number): number {
  let n = 0
  for (const pid of readFileSafe(join(dir, 'cgroup.procs')).split('\n').filter(Boolean)) {
    const real = /^Uid:\s+(\d+)/m.exec(readFileSafe(`/proc/${pid}/status`))?.[1]
    if (real !== undefined && Number(real) === uid) n++
  }
  for (const entry of readdirSafe(dir)) {
    const sub = join(dir, entry)
    if (statSafe(sub)?.isDirectory()) n += userProcsInTree(sub, uid)
  }
  return n
}

/** Removes a cgroup and the cgroups under it (the sampler's, left by a crash), deepest first. */
async function removeCgroupTree(dir: string): Promise<void> {
  for (const entry of readdirSafe(dir)) {
    const sub = join(dir, entry)
    if (statSafe(sub)?.isDirectory()) await removeCgroupTree(sub)
  }
  await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e
  })
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** Resolves once the cgroup holds no process (`cgroup.events` changes when it empties). */
function untilEmpty(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const events = join(dir, 'cgroup.events')
    const watcher = watch(events, () => check())
    // A bound on a kill that never completes (a process stuck in the kernel), not a wait.
    const bound = setTimeout(() => {
      watcher.close()
      reject(new Error(`${dir}: processes still running after cgroup.kill`))
    }, 30_000)
    const check = () => {
      if (populated(dir)) return
      clearTimeout(bound)
      watcher.close()
      resolve()
    }
    check()
  })
}

function userScope(user: ScopeUser): JobScope {
  return {
    user,
    cgroup: null,
    enter: async () => {},
    async end() {
      // Without a cgroup the job's processes are the user's. kill(-1) as that user reaches all of
      // them in one call, in the kernel; a fork in flight dies with its parent. Then what /proc
      // lists is killed from here (a process that killed the killer, or started meanwhile). The
      // user is idle only when the kernel counts no process of it: a process that hops from pid
      // to pid (fork, then the parent exits) is never listed, and a killed one is counted until
      // it is reaped. Rounds until then, bounded: a kill that never completes is an error.
      const killed = processesOf(user.uid).length
      const bound = Date.now() + 30_000
      for (let round = 0; ; round++) {
        await killAllOf(user)
        for (const pid of processesOf(user.uid)) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {}
        }
        if (!(await userHasProcesses(user))) return killed
        if (Date.now() > bound) break
        // Lets the killed be reaped (by their parents, or init) before the next count.
        await new Promise((r) => setTimeout(r, Math.min(5 * round, 250)))
      }
      const left = processesOf(user.uid)
      throw busy(
        user,
        `${left.length > 0 ? `pids ${left.slice(0, 5).join(' ')}` : UNLISTED}: still running 30 s after SIGKILL at the job's end`,
      )
    },
  }
}

/**
 * kill(-1, SIGKILL) as `user`: every process of that user, at once (the shell itself excepted).
 * The shell runs as the user, so the job's processes could read or trace it while it starts: it
 * gets no environment (the agent's may hold the key) and the user's group, never root's.
 */
function killAllOf(user: ScopeUser): Promise<void> {
  return new Promise((resolve) => {
    const killer = spawn('/bin/sh', ['-c', 'kill -KILL -1'], {
      uid: user.uid,
      gid: user.gid ?? 65534,
      env: {},
      stdio: 'ignore',
    })
    killer.once('error', () => resolve())
    killer.once('exit', () => resolve())
  })
}

/**
 * The fixed shell program a scoped process starts as (arguments, never interpolated): it waits on
 * fd 3 until it has been moved into the scope, then execs the command with fd 3 closed. It runs
 * nothing of the job's before the move, so everything the job starts is born in the scope.
 */
const GATE = 'read -r _ <&3 || exit 125; exec "$@" 3<&-'

/**
 * Spawns `argv` inside `scope` as `spawn` would (uid/gid, cwd, env and stdio from `options`; fd 3
 * is the gate's). A process that cannot be moved is killed before it runs anything.
 */
export function spawnInScope(
  scope: JobScope,
  argv: readonly string[],
  options: SpawnOptions & {
    stdio: ['ignore' | 'inherit' | 'pipe', 'pipe' | 'inherit', 'pipe' | 'inherit']
  },
): ChildProcess {
  if (scope.cgroup === null) return spawn(argv[0]!, argv.slice(1), options)
  const child = spawn('/bin/sh', ['-c', GATE, 'zkrunner-job', ...argv], {
    ...options,
    stdio: [...options.stdio, 'pipe'],
  })
  const gate = child.stdio[3] as Socket | null
  if (child.pid === undefined || !gate) return child
  // A child that died before the gate opened makes the write fail: its exit says why.
  gate.on('error', () => {})
  scope.enter(child.pid).then(
    () => gate.end('go\n'),
    (e: Error) => {
      child.kill('SIGKILL')
      child.emit('error', new Error(`cannot move the job into its cgroup: ${e.message}`))
    },
  )
  return child
}

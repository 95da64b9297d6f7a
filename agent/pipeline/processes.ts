import { readdirSync, readFileSync } from 'node:fs'

/**
 * A process as `resume` recognises it later: its pid and its start time (clock ticks after boot,
 * field 22 of `/proc/<pid>/stat`), so that a pid reused by another process is not taken for it.
 */
export interface ProcessRef {
  pid: number
  /** Null where /proc is not readable: the pid alone is then compared. */
  startTicks: number | null
}

interface StatFields {
  state: string
  ppid: number
  startTicks: number
}

function readStat(pid: number): StatFields | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return null
  }
  // The command name may hold spaces and parentheses: fields are counted after the last `)`.
  const rest = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(' ')
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const startTicks = Number(rest[22 - 3])
  if (!Number.isFinite(startTicks)) return null
  return { state: rest[0] ?? '?', ppid: Number(rest[4 - 3]), startTicks }
}

/** The process `pid` as it is now (its start time read from /proc when it can be). */
export function processRef(pid: number): ProcessRef {
  return { pid, startTicks: readStat(pid)?.startTicks ?? null }
}

/** True while `ref` runs: it exists, is not a zombie, and (where known) started when recorded. */
export function processAlive(ref: ProcessRef): boolean {
  const stat = readStat(ref.pid)
  if (stat) {
    if (stat.state === 'Z' || stat.state === 'X') return false
    return ref.startTicks === null || stat.startTicks === ref.startTicks
  }
  try {
    process.kill(ref.pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // Alive but its /proc entry unreadable: only trust the pid when no start time was recorded.
  return ref.startTicks === null
}

/** `roots` and every process under them, from one scan of /proc (just `roots` without /proc). */
function processTree(roots: readonly ProcessRef[]): ProcessRef[] {
  const children = new Map<number, ProcessRef[]>()
  let names: string[] = []
  try {
    names = readdirSync('/proc')
  } catch {
    return [...roots]
  }
  for (const name of names) {
    const pid = Number(name)
    if (!Number.isInteger(pid)) continue
    const stat = readStat(pid)
    if (!stat) continue
    const list = children.get(stat.ppid) ?? []
    list.push({ pid, startTicks: stat.startTicks })
    children.set(stat.ppid, list)
  }
  const tree = [...roots]
  const seen = new Set(tree.map((r) => r.pid))
  for (let i = 0; i < tree.length; i++)
    for (const c of children.get(tree[i]!.pid) ?? [])
      if (!seen.has(c.pid)) {
        seen.add(c.pid)
        tree.push(c)
      }
  return tree
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function signalAll(refs: readonly ProcessRef[], signal: NodeJS.Signals): void {
  for (const ref of refs) {
    if (!processAlive(ref)) continue
    try {
      process.kill(ref.pid, signal)
    } catch {
      // Gone meanwhile.
    }
  }
}

async function waitGone(refs: readonly ProcessRef[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (!refs.some(processAlive)) return true
    if (Date.now() >= deadline) return false
    await sleep(20)
  }
}

/**
 * Stops the process tree of a job whose agent is gone: SIGTERM to the job and everything under
 * it, SIGKILL to whatever still runs after `graceMs`. The tree is listed before any signal, so
 * children orphaned by their parent's exit are still reached. Resolves once all of it is gone,
 * or 5 s after the SIGKILL (a process in uninterruptible sleep outlasts any signal).
 */
export async function stopProcessTree(root: ProcessRef, graceMs = 5000): Promise<void> {
  if (!processAlive(root)) return
  const tree = processTree([root])
  signalAll(tree, 'SIGTERM')
  if (await waitGone(tree, graceMs)) return
  // What the survivors forked since the first scan is listed too.
  const rest = processTree(tree.filter(processAlive))
  signalAll(rest, 'SIGKILL')
  await waitGone(rest, 5000)
}

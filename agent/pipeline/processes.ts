import { parseProcStat, processTree as treeOf } from '../sampling/procfs.ts'
import { readOnce } from '../sampling/pseudo-files.ts'

/**
 * A process as `resume` recognises it later: its pid and its start time (clock ticks after boot,
 * field 22 of `/proc/<pid>/stat`), so that a pid reused by another process is not taken for it.
 */
export interface ProcessRef {
  pid: number
  /** Null where /proc is not readable: the pid alone is then compared. */
  startTicks: number | null
}

function readStat(pid: number) {
  const text = readOnce.read(`/proc/${pid}/stat`)
  return text ? parseProcStat(text) : null
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

/** `roots` and every process under them (just `roots` without /proc). */
async function processTree(roots: readonly ProcessRef[]): Promise<ProcessRef[]> {
  const tree = [...roots]
  const seen = new Set(tree.map((r) => r.pid))
  for (const root of roots)
    for (const s of await treeOf(root.pid))
      if (!seen.has(s.pid)) {
        seen.add(s.pid)
        tree.push({ pid: s.pid, startTicks: s.startTicks })
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
 * Stops the process trees of a job whose agent is gone: SIGTERM to `roots` and everything under
 * them, SIGKILL to whatever still runs after `graceMs`. The trees are listed before any signal,
 * so children orphaned by their parent's exit are still reached. Resolves once all of it is gone,
 * or 5 s after the SIGKILL (a process in uninterruptible sleep outlasts any signal).
 */
export async function stopProcessTree(
  roots: ProcessRef | readonly ProcessRef[],
  graceMs = 5000,
): Promise<void> {
  const live = (Array.isArray(roots) ? roots : [roots]).filter(processAlive)
  if (live.length === 0) return
  const tree = await processTree(live)
  signalAll(tree, 'SIGTERM')
  if (await waitGone(tree, graceMs)) return
  // What the survivors forked since the first scan is listed too.
  const rest = await processTree(tree.filter(processAlive))
  signalAll(rest, 'SIGKILL')
  await waitGone(rest, 5000)
}

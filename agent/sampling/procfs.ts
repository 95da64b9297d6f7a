import { readdir, readFile } from 'node:fs/promises'

/** The fields of `/proc/<pid>/stat` the agent uses. */
export interface ProcStat {
  pid: number
  comm: string
  state: string
  ppid: number
  /** User and system time of the process itself, in clock ticks. */
  utime: number
  stime: number
  /** User and system time of its waited-for children, in clock ticks. */
  cutime: number
  cstime: number
  /** Resident set size in pages. */
  rssPages: number
}

/** Parses `/proc/<pid>/stat`; the command name may hold spaces and parentheses, so split after the last `)`. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return null
  const pid = Number(text.slice(0, open).trim())
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/)
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3])
  if (rest.length < 22 || !Number.isFinite(pid)) return null
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    rssPages: field(24),
  }
}

/** Memory figures from `/proc/<pid>/status`, in bytes (absent for zombies and kernel threads). */
export interface ProcStatus {
  vmRssBytes: number | null
  vmHwmBytes: number | null
}

/** Parses `/proc/<pid>/status` (`VmRSS:  1234 kB`). */
export function parseProcStatus(text: string): ProcStatus {
  const kb = (key: string): number | null => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text)
    return m ? Number(m[1]) * 1024 : null
  }
  return { vmRssBytes: kb('VmRSS'), vmHwmBytes: kb('VmHWM') }
}

/** One procfs sample of a process tree. */
export interface TreeSample {
  /** Live processes in the tree. */
  processes: number
  /** CPU time of the tree including reaped descendants, in milliseconds. */
  cpuMs: number
  /** Sum of the resident set sizes, in bytes. */
  rssBytes: number
  /** Sum of each process's own peak RSS (an upper bound of the tree's peak), in bytes. */
  hwmBytes: number
}

/** Where to read procfs and how to convert its units. */
export interface ProcfsOptions {
  /** Mount point of procfs (tests point it at fixtures). */
  root?: string
  /** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux). */
  clockTicks?: number
  /** Page size in bytes. */
  pageSize?: number
}

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch {
    // The process exited between listing and reading: normal while a tree changes.
    return null
  }
}

/** Lists the pids of the tree rooted at `rootPid` (root included) by scanning every `/proc/<pid>/stat`. */
export async function processTree(
  rootPid: number,
  options: ProcfsOptions = {},
): Promise<ProcStat[]> {
  const root = options.root ?? '/proc'
  const names = await readdir(root)
  const stats: ProcStat[] = []
  await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        const text = await readText(`${root}/${n}/stat`)
        const s = text ? parseProcStat(text) : null
        if (s) stats.push(s)
      }),
  )
  const children = new Map<number, ProcStat[]>()
  for (const s of stats) {
    const list = children.get(s.ppid) ?? []
    list.push(s)
    children.set(s.ppid, list)
  }
  const rootStat = stats.find((s) => s.pid === rootPid)
  if (!rootStat) return []
  const tree: ProcStat[] = []
  const queue = [rootStat]
  while (queue.length > 0) {
    const s = queue.pop()!
    tree.push(s)
    queue.push(...(children.get(s.pid) ?? []))
  }
  return tree
}

/** Samples CPU time and memory of the tree rooted at `rootPid`; null when the root is gone. */
export async function sampleTree(
  rootPid: number,
  options: ProcfsOptions = {},
): Promise<TreeSample | null> {
  const root = options.root ?? '/proc'
  const ticks = options.clockTicks ?? 100
  const page = options.pageSize ?? 4096
  const tree = await processTree(rootPid, options)
  if (tree.length === 0) return null
  let cpuTicks = 0
  let rssBytes = 0
  let hwmBytes = 0
  await Promise.all(
    tree.map(async (s) => {
      cpuTicks += s.utime + s.stime + s.cutime + s.cstime
      const text = await readText(`${root}/${s.pid}/status`)
      const st = text ? parseProcStatus(text) : null
      rssBytes += st?.vmRssBytes ?? s.rssPages * page
      hwmBytes += st?.vmHwmBytes ?? st?.vmRssBytes ?? s.rssPages * page
    }),
  )
  return { processes: tree.length, cpuMs: (cpuTicks * 1000) / ticks, rssBytes, hwmBytes }
}

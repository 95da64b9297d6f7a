import { readdirSync } from 'node:fs'
import { readOnce, type TextFiles } from './pseudo-files.ts'

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
  /** When the process started, in clock ticks after boot: with the pid, it names one process. */
  startTicks: number
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
    startTicks: field(22),
  }
}

/** Memory figures from `/proc/<pid>/status`, in bytes (absent for zombies and kernel threads). */
export interface ProcStatus {
  vmRssBytes: number | null
  vmHwmBytes: number | null
}

/** Parses `/proc/<pid>/status` (`VmRSS:  1234 kB`). */
export function parseProcStatus(text: string): ProcStatus {
  const kb = (re: RegExp): number | null => {
    const m = re.exec(text)
    return m ? Number(m[1]) * 1024 : null
  }
  return { vmRssBytes: kb(VM_RSS), vmHwmBytes: kb(VM_HWM) }
}

const VM_RSS = /^VmRSS:\s+(\d+)\s+kB/m
const VM_HWM = /^VmHWM:\s+(\d+)\s+kB/m

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
  /** How files are read: the sampler keeps its descriptors open across ticks; one-off reads by default. */
  files?: TextFiles
}

// procfs reads are synchronous: a /proc file is generated in memory on read (microseconds), while
// the promise API's open/read/close through the thread pool cost ~50x more CPU per file.
function readStat(files: TextFiles, root: string, pid: number | string): ProcStat | null {
  const text = files.read(`${root}/${pid}/stat`)
  return text ? parseProcStat(text) : null
}

/** Children of `pid` from `/proc/<pid>/task/<tid>/children` (one file per thread); null if unsupported. */
function childrenOf(files: TextFiles, root: string, pid: number): number[] | null {
  let tids: string[]
  try {
    tids = readdirSync(`${root}/${pid}/task`)
  } catch {
    return null
  }
  const out: number[] = []
  for (const tid of tids) {
    const text = files.read(`${root}/${pid}/task/${tid}/children`)
    if (text === null) return null
    for (const c of text.split(' ')) if (c.trim() !== '') out.push(Number(c))
  }
  return out
}

/** Parent pid from a stat line without parsing the rest (the full scan reads every process). */
function ppidOf(text: string): number {
  const close = text.lastIndexOf(')')
  const start = text.indexOf(' ', close + 2) + 1
  return Number(text.slice(start, text.indexOf(' ', start)))
}

/**
 * Lists the tree rooted at `rootPid` (root included): through the kernel's children lists when
 * it has them (only the tree's own files are read), else by one scan of every `/proc/<pid>/stat`
 * in which only the tree's members are fully parsed.
 */
export async function processTree(
  rootPid: number,
  options: ProcfsOptions = {},
): Promise<ProcStat[]> {
  const root = options.root ?? '/proc'
  const files = options.files ?? readOnce
  const rootStat = readStat(files, root, rootPid)
  if (!rootStat) return []
  const tree: ProcStat[] = [rootStat]
  const viaChildren = childrenOf(files, root, rootPid)
  if (viaChildren !== null) {
    const queue = viaChildren
    while (queue.length > 0) {
      const pid = queue.pop()!
      const s = readStat(files, root, pid)
      if (!s) continue
      tree.push(s)
      queue.push(...(childrenOf(files, root, pid) ?? []))
    }
    return tree
  }
  const children = new Map<number, string[]>()
  for (const n of readdirSync(root)) {
    const c = n.charCodeAt(0)
    if (c < 48 || c > 57) continue
    // The fallback scan reads every process once: descriptors kept for all of them would pile up.
    const text = readOnce.read(`${root}/${n}/stat`)
    if (!text) continue
    const ppid = ppidOf(text)
    const list = children.get(ppid) ?? []
    list.push(text)
    children.set(ppid, list)
  }
  const queue = [rootPid]
  while (queue.length > 0) {
    for (const text of children.get(queue.pop()!) ?? []) {
      const s = parseProcStat(text)
      if (!s) continue
      tree.push(s)
      queue.push(s.pid)
    }
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
  const files = options.files ?? readOnce
  const tree = await processTree(rootPid, options)
  if (tree.length === 0) return null
  let cpuTicks = 0
  let rssBytes = 0
  let hwmBytes = 0
  for (const s of tree) {
    cpuTicks += s.utime + s.stime + s.cutime + s.cstime
    const text = files.read(`${root}/${s.pid}/status`)
    const st = text ? parseProcStatus(text) : null
    rssBytes += st?.vmRssBytes ?? s.rssPages * page
    hwmBytes += st?.vmHwmBytes ?? st?.vmRssBytes ?? s.rssPages * page
  }
  return { processes: tree.length, cpuMs: (cpuTicks * 1000) / ticks, rssBytes, hwmBytes }
}

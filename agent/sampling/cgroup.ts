import { mkdir, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readOnce, type TextFiles } from './pseudo-files.ts'

/** Which cgroup hierarchy a host mounts. */
export type CgroupVersion = 1 | 2

/** Where a process's CPU and memory accounting lives. */
export interface CgroupPaths {
  version: CgroupVersion
  /** Directory holding `cpu.stat` (v2) or `cpuacct.usage` (v1). */
  cpuDir: string
  /** Directory holding `memory.peak` (v2) or `memory.max_usage_in_bytes` (v1). */
  memoryDir: string
}

/** CPU and memory read from one cgroup; null where the file is missing (controller not enabled). */
export interface CgroupSample {
  cpuMs: number | null
  memoryBytes: number | null
  peakMemoryBytes: number | null
}

/** Parses `/proc/<pid>/cgroup` into controller → path (`''` is the v2 unified hierarchy). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim())
    if (!m) continue
    const path = m[2] ?? '/'
    const controllers = m[1] ?? ''
    if (controllers === '') out.set('', path)
    for (const c of controllers.split(',')) if (c !== '') out.set(c.replace(/^name=/, ''), path)
  }
  return out
}

/** Parses a flat keyed file such as v2 `cpu.stat` or v1 `cpuacct.stat` (`key value` lines). */
export function parseKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/)
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v)
  }
  return out
}

/** Parses a single-number file (`memory.peak`, `cpuacct.usage`); `max` and garbage give null. */
export function parseNumber(text: string): number | null {
  const n = Number(text.trim())
  return text.trim() !== '' && Number.isFinite(n) ? n : null
}

/** Finds the cgroup of a process given the text of `/proc/<pid>/cgroup` and the mount root. */
export function resolveCgroup(
  procCgroup: string,
  mountRoot: string,
  v2: boolean,
): CgroupPaths | null {
  const map = parseProcCgroup(procCgroup)
  if (v2) {
    const path = map.get('')
    if (path === undefined) return null
    const dir = join(mountRoot, path)
    return { version: 2, cpuDir: dir, memoryDir: dir }
  }
  const cpu = map.get('cpuacct')
  const memory = map.get('memory')
  if (cpu === undefined || memory === undefined) return null
  return {
    version: 1,
    cpuDir: join(mountRoot, 'cpuacct', cpu),
    memoryDir: join(mountRoot, 'memory', memory),
  }
}

/**
 * Reads CPU and memory accounting of a cgroup in either hierarchy version. Synchronous on purpose:
 * cgroup files are generated in memory on read, and the sampler reads them every interval; the
 * promise API's thread-pool round trips cost far more CPU than the read.
 */
export function readCgroup(paths: CgroupPaths, files: TextFiles = readOnce): CgroupSample {
  const maybeRead = (name: string, dir: string) => files.read(join(dir, name))
  if (paths.version === 2) {
    const cpu = maybeRead('cpu.stat', paths.cpuDir)
    const usec = cpu ? parseKeyed(cpu).usage_usec : undefined
    const cur = maybeRead('memory.current', paths.memoryDir)
    const peak = maybeRead('memory.peak', paths.memoryDir)
    return {
      cpuMs: usec === undefined ? null : usec / 1000,
      memoryBytes: cur ? parseNumber(cur) : null,
      peakMemoryBytes: peak ? parseNumber(peak) : null,
    }
  }
  const usage = maybeRead('cpuacct.usage', paths.cpuDir)
  const cur = maybeRead('memory.usage_in_bytes', paths.memoryDir)
  const peak = maybeRead('memory.max_usage_in_bytes', paths.memoryDir)
  const ns = usage ? parseNumber(usage) : null
  return {
    cpuMs: ns === null ? null : ns / 1e6,
    memoryBytes: cur ? parseNumber(cur) : null,
    peakMemoryBytes: peak ? parseNumber(peak) : null,
  }
}

/** Detects the hierarchy version of the host and the cgroup of `pid`. */
export async function detectCgroup(
  pid: number | 'self' = 'self',
  mountRoot = '/sys/fs/cgroup',
): Promise<CgroupPaths | null> {
  const text = readOnce.read(`/proc/${pid}/cgroup`)
  if (!text) return null
  const v2 = readOnce.read(join(mountRoot, 'cgroup.controllers')) !== null
  return resolveCgroup(text, mountRoot, v2)
}

/** A cgroup created for one job, so its accounting covers exactly the job's process tree. */
export interface JobCgroup {
  paths: CgroupPaths
  /** Its directories (two on v1, one on v2). */
  dirs: string[]
  /** `cgroup.procs` files a process must be written to (two on v1, one on v2). */
  procsFiles: string[]
  /** Removes the cgroup once its processes are gone. */
  remove(): Promise<void>
}

/**
 * Creates a child cgroup of the agent's own for one job; null when the host does not delegate
 * (not root, read-only mount, v2 without delegated controllers). Sampling then falls back to procfs.
 */
export async function createJobCgroup(
  name: string,
  mountRoot = '/sys/fs/cgroup',
): Promise<JobCgroup | null> {
  const own = await detectCgroup('self', mountRoot)
  if (!own) return null
  const dirs =
    own.version === 2
      ? [join(own.cpuDir, name)]
      : [join(own.cpuDir, name), join(own.memoryDir, name)]
  const made: string[] = []
  try {
    for (const d of dirs) {
      await mkdir(d)
      made.push(d)
    }
    const paths: CgroupPaths =
      own.version === 2
        ? { version: 2, cpuDir: dirs[0]!, memoryDir: dirs[0]! }
        : { version: 1, cpuDir: dirs[0]!, memoryDir: dirs[1]! }
    // v2 refuses processes in a cgroup whose controllers are not delegated; probe by reading.
    if (own.version === 2 && readOnce.read(join(dirs[0]!, 'cpu.stat')) === null)
      throw new Error('no cpu controller')
    return {
      paths,
      dirs,
      procsFiles: dirs.map((d) => join(d, 'cgroup.procs')),
      remove: () => removeCgroupDirs(made),
    }
  } catch {
    await removeCgroupDirs(made)
    return null
  }
}

/** The processes in a cgroup directory (none when it is gone). */
export function cgroupProcs(dir: string): number[] {
  const text = readOnce.read(join(dir, 'cgroup.procs'))
  return (text ?? '').split('\n').filter(Boolean).map(Number)
}

/** Removes job cgroup directories; one still holding processes (or gone already) is left as is. */
export async function removeCgroupDirs(dirs: readonly string[]): Promise<void> {
  for (const d of dirs) await rmdir(d).catch(() => {})
}

/** Moves a process into a job cgroup (used by tests; the runner moves the job before it execs). */
export async function joinCgroup(cg: JobCgroup, pid: number): Promise<void> {
  for (const f of cg.procsFiles) await writeFile(f, String(pid))
}

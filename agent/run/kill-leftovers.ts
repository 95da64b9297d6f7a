import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cgroupProcs } from '../sampling/cgroup.ts'

/** SIGKILLs one process or process group; gone already is fine. */
function killQuietly(target: number): boolean {
  try {
    process.kill(target, 'SIGKILL')
    return true
  } catch {
    return false
  }
}

/**
 * Kills what a job left running once its main process has exited: its process group (the job is
 * started as a group leader) and everything in its cgroup. Until they are gone, a leftover could
 * still write into the build directory, swap an artifact path for a symlink while the agent
 * collects it, or hold the output pipes open. A process that left the group (setsid) is reached
 * only through the cgroup; without one (a host that does not delegate cgroups) it survives: the
 * artifact collection still follows no symlink (artifacts.ts), and the README says so.
 * Returns how many processes of the cgroup were killed.
 */
export async function killLeftovers(pgid: number, cgroupDirs: readonly string[]): Promise<number> {
  killQuietly(-pgid)
  let killed = 0
  for (const dir of cgroupDirs) {
    // cgroup v2 kills the whole cgroup at once, forks in flight included.
    const kill = join(dir, 'cgroup.kill')
    if (existsSync(kill)) {
      try {
        writeFileSync(kill, '1')
      } catch {}
    }
    // v1 has no cgroup.kill: kill what is listed until nothing is (a forking loop adds members
    // between two reads, so read again; an exited process leaves the list at once).
    for (let round = 0; round < 1000; round++) {
      const procs = cgroupProcs(dir)
      if (procs.length === 0) break
      for (const pid of procs) if (killQuietly(pid)) killed++
      await new Promise((r) => setImmediate(r))
    }
  }
  return killed
}

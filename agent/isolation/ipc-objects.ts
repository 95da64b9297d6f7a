import { readFileSync } from 'node:fs'
import type { JobUser } from './job-user.ts'
import { runTool } from './run-tool.ts'

// SysV shared memory, semaphores and message queues outlive every process: cgroup.kill ends a
// job's processes, not a segment it made. A job could leave one for a later job of the same user
// (of another project maybe) to attach to: a message planted in a queue, a poisoned shared cache,
// a semaphore held down. /proc/sysvipc lists them all, with their owner and creator.

/** The three kinds of SysV IPC object, as /proc/sysvipc names them and ipcrm removes them. */
const KINDS = [
  { file: 'shm', idColumn: 'shmid', flag: '-m' },
  { file: 'sem', idColumn: 'semid', flag: '-s' },
  { file: 'msg', idColumn: 'msqid', flag: '-q' },
] as const

/** One SysV IPC object of a user. */
export interface IpcObject {
  kind: (typeof KINDS)[number]['file']
  id: number
}

/**
 * The objects in a /proc/sysvipc table (`text`) that `uid` owns or created (a job can give one
 * away with IPC_SET; its creator stays), read by the header's column names, not positions.
 */
export function ipcObjectsOf(kind: IpcObject['kind'], text: string, uid: number): IpcObject[] {
  const spec = KINDS.find((k) => k.file === kind)!
  const [header, ...rows] = text.split('\n').map((l) => l.trim().split(/\s+/))
  const at = (name: string) => header?.indexOf(name) ?? -1
  const id = at(spec.idColumn)
  const owners = [at('uid'), at('cuid')]
  if (id < 0 || owners.includes(-1)) return []
  return rows
    .filter((r) => r.length > id && owners.some((o) => Number(r[o]) === uid))
    .map((r) => ({ kind, id: Number(r[id]) }))
    .filter((o) => Number.isSafeInteger(o.id))
}

/** The SysV IPC objects `user` owns or created now (none where /proc/sysvipc is absent). */
function userIpcObjects(user: JobUser, procDir = '/proc/sysvipc'): IpcObject[] {
  return KINDS.flatMap(({ file }) => {
    let text: string
    try {
      text = readFileSync(`${procDir}/${file}`, 'utf8')
    } catch {
      return []
    }
    return ipcObjectsOf(file, text, user.uid)
  })
}

/**
 * prepare_exec, once the job user is claimed: removes every SysV IPC object of the user (as root,
 * which may remove any). Returns what is still there: an object gone meanwhile is not an error,
 * and one that would not go is said by the caller, not fatal.
 */
export async function removeUserIpcObjects(
  user: JobUser,
  procDir = '/proc/sysvipc',
): Promise<IpcObject[]> {
  const found = userIpcObjects(user, procDir)
  if (found.length === 0) return []
  const args = found.flatMap((o) => [KINDS.find((k) => k.file === o.kind)!.flag, String(o.id)])
  // ipcrm (util-linux) goes on past an id that is gone and exits non-zero: what is left is read
  // back below instead of trusting its exit code.
  await runTool(['ipcrm', ...args], 'ipcrm').catch(() => {})
  const left = new Set(found.map((o) => `${o.kind}:${o.id}`))
  return userIpcObjects(user, procDir).filter((o) => left.has(`${o.kind}:${o.id}`))
}

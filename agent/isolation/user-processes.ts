import { spawn } from 'node:child_process'
import { AgentError, AgentErrorCode } from '../errors.ts'

/** The user whose processes are counted: its uid, and its primary group for the probe. */
export interface CountedUser {
  name: string
  uid: number
  gid?: number
}

/** Where the probe's tools are looked for (util-linux's prlimit and setpriv). */
const PROBE_PATH = '/usr/bin:/bin:/usr/sbin:/sbin'

/**
 * Whether `user` has more than `allowed` processes, by the kernel's own count of the user's
 * processes (the one RLIMIT_NPROC is checked against), never by listing /proc: a process that hops
 * from pid to pid (fork, then the parent exits, in a loop) is never listed, yet always counted.
 *
 * The probe: `prlimit --nproc=N` then `setpriv` to the user, then exec `true`. Switching to a user
 * with more than N processes marks the switcher, and its exec then fails with EAGAIN (Linux defers
 * the RLIMIT_NPROC refusal of set*uid to execve). The probe runs nothing but `true` as the user,
 * with no environment and no supplementary groups. Zombies count (the kernel frees the count when
 * they are reaped): a process of the user not yet reaped is still the user's.
 */
export function userHasProcesses(user: CountedUser, allowed = 0): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = spawn(
      'prlimit',
      [
        `--nproc=${allowed}:${allowed}`,
        '--',
        'setpriv',
        `--reuid=${user.uid}`,
        `--regid=${user.gid ?? 65534}`,
        '--clear-groups',
        '--',
        'true',
      ],
      { env: { PATH: PROBE_PATH, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let err = ''
    probe.stderr!.on('data', (b: Buffer) => {
      if (err.length < 4096) err += b.toString()
    })
    probe.once('error', (e) =>
      reject(
        new AgentError(
          AgentErrorCode.SPAWN_FAILED,
          `cannot count the processes of ${user.name} (util-linux prlimit and setpriv are needed): ${e.message}`,
        ),
      ),
    )
    probe.once('close', (code) => {
      if (code === 0) return resolve(false)
      if (/Resource temporarily unavailable/.test(err)) return resolve(true)
      reject(
        new AgentError(
          AgentErrorCode.SPAWN_FAILED,
          `cannot count the processes of ${user.name}: prlimit/setpriv exited ${code}: ${err.trim()}`,
        ),
      )
    })
  })
}

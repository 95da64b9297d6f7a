import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { denyScheduling } from './schedule-deny.ts'

/** The user a job runs as when it is not the agent's: who cannot read the runner key. */
export interface JobUser {
  name: string
  uid: number
  gid: number
  home: string
}

/** Looks a user up by name or numeric uid in a passwd file. */
export function lookupUser(spec: string, passwd = readFileSync('/etc/passwd', 'utf8')): JobUser {
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid, , home] = line.split(':')
    if (name === undefined || uid === undefined || gid === undefined) continue
    if (name === spec || uid === spec)
      return { name, uid: Number(uid), gid: Number(gid), home: home || '/' }
  }
  throw new AgentError(AgentErrorCode.INVALID_CONFIG, `jobUser ${spec}: no such user`)
}

/**
 * The system user `name`, created (as root, with `useradd --system`, no home, no login shell) when
 * missing, and kept from cron and at (schedule-deny.ts): a job user runs nothing after its job.
 * useradd refuses while another holds the passwd lock, so a busy lock is tried again.
 */
export function ensureSystemUser(name: string): JobUser {
  const user = createSystemUser(name)
  denyScheduling(name)
  return user
}

function createSystemUser(name: string): JobUser {
  let why = ''
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      return lookupUser(name)
    } catch {}
    const r = spawnSync(
      'useradd',
      [
        '--system',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        name,
      ],
      { encoding: 'utf8' },
    )
    if (r.status === 0) return lookupUser(name)
    why = (r.stderr || r.error?.message || `exit ${r.status}`).trim()
    // Exit 9: the user appeared meanwhile (another process made it); 10: the lock was busy.
    if (r.status !== 9 && r.status !== 10) break
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
  }
  throw new AgentError(AgentErrorCode.INVALID_CONFIG, `useradd ${name} failed: ${why}`)
}

/** Whether the job is kept from the runner key, and how; `note` is the line the agent logs. */
export interface Isolation {
  /** The user the job runs as, or null for the agent's own user. */
  user: JobUser | null
  note: string
}

/**
 * Decides who a job runs as. Only root can start a process as another user, so `jobUser` needs
 * an agent running as root; an agent that runs a job as its own user says plainly that the job can
 * read the key (its file, and `/proc/<agent pid>/environ`).
 */
export function jobIsolation(
  jobUser: string | undefined,
  agentUid = process.getuid?.() ?? -1,
  passwd?: string,
): Isolation {
  if (jobUser === undefined || jobUser === '')
    return {
      user: null,
      note: `the job runs as the agent's own user (uid ${agentUid}): it could read the runner key; set jobUser (ZKRUNNER_JOB_USER) and run the agent as root to keep the key from it`,
    }
  const user = lookupUser(jobUser, passwd)
  if (user.uid === agentUid)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `jobUser ${jobUser} is the agent's own user: the job could read the runner key`,
    )
  if (agentUid !== 0)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `jobUser ${jobUser} needs the agent to run as root (it runs as uid ${agentUid})`,
    )
  return { user, note: `the job runs as ${user.name} (uid ${user.uid}), not as the key's owner` }
}

/**
 * Refuses to run a job as the agent's own user while the runner key is in the agent's environment:
 * `/proc/<agent pid>/environ` keeps the environment the agent started with, readable by that user,
 * whatever the agent passes on.
 */
export function checkKeyExposure(isolation: Isolation, agentEnv: NodeJS.ProcessEnv): void {
  if (isolation.user || agentEnv.ZKRUNNER_RUNNER_KEY === undefined) return
  throw new AgentError(
    AgentErrorCode.INVALID_CONFIG,
    'ZKRUNNER_RUNNER_KEY is in the agent environment and the job would run as the same user, who can read it from /proc/<agent pid>/environ: keep the key in its file (zkrunner-agent keygen) or set jobUser',
  )
}

/** HOME and USER of the job user, so a job does not write into the agent's home. */
export function userEnv(isolation: Isolation): Record<string, string> {
  const u = isolation.user
  return u ? { HOME: u.home, USER: u.name, LOGNAME: u.name } : {}
}

import { spawnSync } from 'node:child_process'
import { chmod, chown, mkdir, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { JobUser } from '../agent/isolation/job-user.ts'
import type { SelfHostedRunner } from '../github-standin/index.ts'
import type { AgentCommand } from './local-runner.ts'
import type { Supervised, Supervisor } from './supervisor.ts'

/** Where the stack's GitHub self-hosted runner keeps its things, beside the data dir. */
export interface GithubRunnerDirs {
  /** Root's, 0755: the way to the signer's socket, the runner's bin and the sample repository. */
  root: string
  /** The sample repository `actions/checkout` clones (root's; the runner's user reads it). */
  repository: string
}

/**
 * The runner's directories, beside the stack's data dir (a data dir made by mkdtemp is closed to
 * other users, and the runner's user must reach these), never in the builds dir (the job user owns
 * that and could swap the socket's directory).
 */
export function githubRunnerDirs(dataDir: string): GithubRunnerDirs {
  const root = `${dataDir.replace(/\/+$/, '')}-github-runner`
  return { root, repository: join(root, 'repository') }
}

/** How the stack's self-hosted runner reaches GitHub and whom its signer binds jobs to. */
export interface GithubRunnerInput {
  sup: Supervisor
  agent: AgentCommand
  /** The agent's environment (data dir, Worker, chain): the signer's, never the runner's. */
  agentEnv: NodeJS.ProcessEnv
  dirs: GithubRunnerDirs
  /** The stack's job user (stackJobUser), or undefined when there is none. */
  jobUser: JobUser | undefined
  /** The GitHub REST base the signer asks (the stand-in's `/api/v3`). */
  apiUrl: string
  /** The signer's read token (Actions: read on the served repository). */
  readToken: string
  /** This runner as GitHub names it (`runner_name`) and its id (`runner_id`). */
  runnerName: string
  runnerId: string
  /** The repository it serves, `owner/repo`. */
  servedProject: string
  log: (line: string) => void
}

/** The runner's set-up for runAsSelfHostedRunner, and the signer beside it when there is one. */
export interface StackGithubRunner {
  runner: Omit<SelfHostedRunner, 'onLog'>
  /** The signer (root) holding the key for the runner's user, when jobs run as the job user. */
  signer?: { proc: Supervised; socketPath: string }
}

/**
 * Sets the stack's GitHub self-hosted runner up as README's "Install on a GitHub self-hosted
 * runner" has an operator do it, so GitHub jobs keep the key from job code as GitLab's do. With a
 * job user (the stack as root): the runner runs as that user (hooks, checkout and steps), with an
 * environment of its own that holds no setting of the agent's, and `zkrunner-agent signer` runs as
 * root beside it, bound to this runner and repository, holding the key; the runner's
 * `ZKRUNNER_SIGNER_SOCKET` sends the hooks and the `run:` shell there. Without one the runner runs
 * as the stack's own user with the agent's environment and no signer: the job could read the key
 * (stackJobUser has said so).
 */
export async function startGithubRunner(input: GithubRunnerInput): Promise<StackGithubRunner> {
  const { dirs, jobUser, agent, sup } = input
  await mkdir(dirs.root, { recursive: true, mode: 0o755 })
  await chmod(dirs.root, 0o755)
  // `zkrunner-agent` on the runner's PATH, as agent/README.md installs it.
  const bin = join(dirs.root, 'bin')
  await mkdir(bin, { recursive: true, mode: 0o755 })
  await rm(join(bin, 'zkrunner-agent'), { force: true })
  await symlink(agent.command, join(bin, 'zkrunner-agent'))
  const path = `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`
  const work = join(dirs.root, 'work')
  // A workspace of an earlier start may belong to another user: the runner starts afresh.
  await rm(work, { recursive: true, force: true })
  await mkdir(work, { recursive: true, mode: 0o700 })
  const hooks = {
    started: [agent.command, ...agent.args, 'github', 'hook', 'started'],
    completed: [agent.command, ...agent.args, 'github', 'hook', 'completed'],
  }
  // The hooks and the `run:` shell run the agent as the job user: a checkout it cannot read (a
  // clone under a 0700 home or mktemp directory) would fail every GitHub job with EACCES.
  const unusable = jobUser ? agentUnusableBy(agent, jobUser, path) : null
  if (!jobUser || unusable) {
    input.log(
      unusable
        ? `GitHub jobs run as the stack's own user, without a signer: ${unusable}; a job could read the runner key`
        : "GitHub jobs run as the stack's own user, without a signer (no job user): a job could read the runner key",
    )
    const { ZKRUNNER_JOB_USER: _jobUser, ...env } = input.agentEnv
    return {
      runner: { workDir: work, checkoutFrom: dirs.repository, hooks, env: { ...env, PATH: path } },
    }
  }
  await chown(work, jobUser.uid, jobUser.gid)

  // The socket's directory is root's and so is every directory above it (the signer checks).
  const signerDir = join(dirs.root, 'signer')
  await mkdir(signerDir, { recursive: true, mode: 0o755 })
  await chmod(signerDir, 0o755)
  const socketPath = join(signerDir, 'signer.sock')
  const proc = await sup.start({
    name: 'github-signer',
    command: agent.command,
    args: [...agent.args, 'signer', '--socket', socketPath],
    env: {
      ...input.agentEnv,
      ZKRUNNER_JOB_USER: jobUser.name,
      ZKRUNNER_PROVIDER: 'github',
      ZKRUNNER_PROVIDER_API_URL: input.apiUrl,
      ZKRUNNER_PROVIDER_TOKEN: input.readToken,
      ZKRUNNER_RUNNER_NAME: input.runnerName,
      ZKRUNNER_RUNNER_ID: input.runnerId,
      ZKRUNNER_SERVED_PROJECTS: input.servedProject,
    },
    readyLine: /listening on /,
    onLine: (line) => input.log(`[github-signer] ${line}`),
  })
  input.log(
    `GitHub jobs run as ${jobUser.name} (uid ${jobUser.uid}) through the signer at ${socketPath}: they cannot read the runner key; each runs in a job scope that ends with it, one job of ${jobUser.name} at a time`,
  )
  // The runner's own environment (its service's, plus its `.env`): nothing of the agent's.
  const env: NodeJS.ProcessEnv = {
    PATH: path,
    HOME: jobUser.home,
    USER: jobUser.name,
    LOGNAME: jobUser.name,
    LANG: process.env.LANG ?? 'C.UTF-8',
    ZKRUNNER_SIGNER_SOCKET: socketPath,
  }
  return {
    runner: { workDir: work, checkoutFrom: dirs.repository, hooks, env, user: jobUser },
    signer: { proc, socketPath },
  }
}

/**
 * Why `user` cannot run the agent (its `--help` fails as that user), or null when it can: the
 * runner's hooks and shell run it as the job user, so every directory down to it must be theirs
 * to traverse and read.
 */
function agentUnusableBy(
  agent: { command: string; args: readonly string[] },
  user: { name: string; uid: number; gid: number },
  path: string,
): string | null {
  const r = spawnSync(agent.command, [...agent.args, '--help'], {
    uid: user.uid,
    gid: user.gid,
    env: { PATH: path, HOME: '/nonexistent' },
    stdio: 'ignore',
    timeout: 60_000,
  })
  if (r.status === 0) return null
  return `${user.name} cannot run ${agent.command} (${r.error?.message ?? `exit ${r.status}`}): a directory above it is closed to that user`
}

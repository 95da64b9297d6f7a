import { chown, cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CiJob } from './sample-project.ts'
import type { Supervisor } from './supervisor.ts'

/** How to call the agent's CLI (the custom executor's `*_exec`). */
export interface AgentCommand {
  command: string
  args: readonly string[]
}

/** The built agent of this checkout (`npm run build`), through the launcher a runner host uses. */
export const agentCommand = (): AgentCommand => ({
  command: new URL('../bin/zkrunner-agent', import.meta.url).pathname,
  args: [],
})

/** One job handed to the runner: the CI definition, the project files and the pipeline's variables. */
export interface RunnerJob {
  ci: CiJob
  projectDir: string
  projectPath: string
  jobId: number
  pipelineId: number
  sha: string
  variables: Record<string, string>
}

/** What the runner reports back to GitLab. */
export interface RunnerOutcome {
  status: 'success' | 'failed'
  trace: string
}

// GitLab Runner's documented exit codes for the custom executor's run stage.
const BUILD_FAILURE_EXIT_CODE = 37
const SYSTEM_FAILURE_EXIT_CODE = 38

/** Gives a copied tree to the job user, as a checkout by that user would be (no symlinks in it). */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid)
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    await chown(join(e.parentPath, e.name), uid, gid)
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

/** The line a held job prints once it has reached its hold point (the kill fault waits for it). */
export const HOLD_MARKER = 'zkrunner fault: the job holds here until its agent is killed'

/**
 * The step script GitLab Runner would generate for a shell-like executor: variables, then each
 * line, stopping at the first failure. With `hold`, the job prints {@link HOLD_MARKER} before its
 * last (long) step and then waits instead of running it: a crash injected on that line finds the
 * job certainly alive, however fast the machine (the waiting is bounded, so a job whose agent is
 * never killed still ends).
 */
export function stepScript(
  job: RunnerJob,
  buildDir: string,
  env: Record<string, string>,
  hold = false,
): string {
  const lines = ['#!/usr/bin/env bash', 'set -eo pipefail', `cd ${shellQuote(buildDir)}`]
  for (const [k, v] of Object.entries(env)) lines.push(`export ${k}=${shellQuote(v)}`)
  job.ci.script.forEach((line, i) => {
    if (hold && i === job.ci.script.length - 1) {
      lines.push(`printf '%s\\n' ${shellQuote(HOLD_MARKER)}`)
      lines.push('sleep 600')
    }
    lines.push(`printf '%s\\n' ${shellQuote(`$ ${line}`)}`)
    lines.push(line)
  })
  return `${lines.join('\n')}\n`
}

/**
 * Runs one job the way GitLab Runner drives a custom executor: `config`, `prepare`, then `run
 * <script> <stage>` for get_sources and step_script, then `cleanup`, with the job's variables as
 * `CUSTOM_ENV_*`. The agent is the executor, so the job is sampled, bundled, pinned and reported
 * exactly as on a real runner.
 */
export async function runWithExecutor(
  exec: Supervisor['exec'],
  job: RunnerJob,
  agent: AgentCommand,
  baseEnv: NodeJS.ProcessEnv,
  workDir: string,
  onLine: (line: string) => void = () => {},
  /**
   * Fault injection: the job holds before its last step and the agent is SIGKILLed as soon as the
   * job says it holds, as a crash mid-job would: no timing involved, so it happens on any machine.
   */
  killAgentMidJob = false,
  /** The user jobs run as (the agent's jobUser): GitLab Runner fetches the sources as that user. */
  jobUser?: { uid: number; gid: number },
): Promise<RunnerOutcome> {
  const trace: string[] = []
  const log = (line: string) => {
    trace.push(line)
    onLine(line)
  }
  const buildDir = join(workDir, `job-${job.jobId}`)
  const ciEnv: Record<string, string> = {
    CI: 'true',
    GITLAB_CI: 'true',
    CI_JOB_ID: String(job.jobId),
    CI_JOB_NAME: job.ci.name,
    CI_JOB_STAGE: job.ci.stage,
    CI_PIPELINE_ID: String(job.pipelineId),
    CI_COMMIT_SHA: job.sha,
    CI_PROJECT_PATH: job.projectPath,
    // Where GitLab Runner checks the project out: the agent runs the job there.
    CI_BUILDS_DIR: workDir,
    CI_PROJECT_DIR: buildDir,
    ...job.ci.variables,
    ...job.variables,
  }
  const custom = Object.fromEntries(Object.entries(ciEnv).map(([k, v]) => [`CUSTOM_ENV_${k}`, v]))
  const env = {
    ...baseEnv,
    ...custom,
    BUILD_FAILURE_EXIT_CODE: String(BUILD_FAILURE_EXIT_CODE),
    SYSTEM_FAILURE_EXIT_CODE: String(SYSTEM_FAILURE_EXIT_CODE),
  }
  const call = async (args: string[], kill = false) =>
    (await exec(
      {
        name: `executor ${args[0]}`,
        command: agent.command,
        args: [...agent.args, 'executor', ...args],
        env,
        onLine: log,
      },
      {
        // The job reaches its hold point only through the agent, which has spooled it by then.
        ...(kill ? { killOnLine: (line: string) => line === HOLD_MARKER } : {}),
        onKill: (pid) => log(`(fault injected: killing the agent, pid ${pid})`),
      },
    )) ?? SYSTEM_FAILURE_EXIT_CODE

  await mkdir(workDir, { recursive: true })
  const scripts = join(workDir, `scripts-${job.jobId}`)
  try {
    if ((await call(['config'])) !== 0) return { status: 'failed', trace: trace.join('\n') }
    if ((await call(['prepare'])) !== 0) return { status: 'failed', trace: trace.join('\n') }
    // After prepare, which empties the builds dir for the job (GitLab Runner keeps its scripts
    // elsewhere).
    await mkdir(scripts, { recursive: true })
    // get_sources: the stand-in has no repository server, so the runner copies the project.
    await rm(buildDir, { recursive: true, force: true })
    await cp(job.projectDir, buildDir, { recursive: true })
    if (jobUser) await chownTree(buildDir, jobUser.uid, jobUser.gid)
    const stepPath = join(scripts, 'step_script')
    await writeFile(stepPath, stepScript(job, buildDir, ciEnv, killAgentMidJob), { mode: 0o700 })
    const code = await call(['run', stepPath, 'step_script'], killAgentMidJob)
    return { status: code === 0 ? 'success' : 'failed', trace: trace.join('\n') }
  } finally {
    await call(['cleanup']).catch(() => SYSTEM_FAILURE_EXIT_CODE)
    await rm(scripts, { recursive: true, force: true })
  }
}

import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type JobScope,
  openJobScope,
  type ScopeOptions,
  spawnInScope,
} from '../agent/isolation/job-scope.ts'
import { expandExpressions } from './expressions.ts'
import type { RunJobContext, RunJobOutcome } from './types.ts'
import type { ParsedWorkflow } from './workflow.ts'

/** GitHub's default for a `run:` step on Linux when the workflow names no shell. */
const DEFAULT_SHELL = 'bash --noprofile --norc -eo pipefail {0}'

/** A self-hosted runner's set-up: where jobs run, its hooks, and the environment it runs with. */
export interface SelfHostedRunner {
  /** The runner's work directory (`_work`): workspaces and `_temp` go under it. */
  workDir: string
  /** The repository a `uses: actions/checkout` step clones (a local git repository). */
  checkoutFrom: string
  /** `ACTIONS_RUNNER_HOOK_JOB_STARTED` / `_COMPLETED`, as argument arrays (a script path on a real runner). */
  hooks?: { started?: string[]; completed?: string[] }
  /** The runner process's own environment (PATH, HOME, and what the operator set, e.g. ZKRUNNER_*). */
  env: NodeJS.ProcessEnv
  /** Where the job's log lines go besides the outcome's log. */
  onLog?: (text: string) => void
  /**
   * The user the runner runs as, when not the caller's own (a real runner runs as the user its
   * service was installed for): hooks, checkout and steps run as this user, and the workspace and
   * `_temp` are its own. `workDir` must be that user's. Needs the caller to be root.
   */
  user?: { name?: string; uid: number; gid: number }
  /**
   * Where the job's scope is made when it runs as `user` (tests force the fallback with
   * `{ cgroupRoot: null }`); see runAsSelfHostedRunner.
   */
  scope?: ScopeOptions
}

/**
 * The runner's clean-up at the end of a job ("Cleaning up orphan processes"): every process whose
 * environment still carries the job's `RUNNER_TRACKING_ID` is killed, so nothing a job started
 * outlives it into the next job on this runner. A process that dropped the variable escapes it, as
 * on GitHub's runner. Returns what it killed.
 */
async function killOrphans(trackingId: string): Promise<{ pid: number; name: string }[]> {
  const mark = `RUNNER_TRACKING_ID=${trackingId}`
  const killed: { pid: number; name: string }[] = []
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '')
    if (!environ.split('\0').includes(mark)) continue
    const name = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?')).trim()
    try {
      process.kill(pid, 'SIGKILL')
      killed.push({ pid, name })
    } catch {}
  }
  return killed
}

/** Gives `path` and everything under it to `user`, as files the runner's user wrote would be. */
async function giveTo(path: string, user: { uid: number; gid: number }): Promise<void> {
  await chown(path, user.uid, user.gid)
  for (const e of await readdir(path, { withFileTypes: true, recursive: true }))
    await chown(join(e.parentPath, e.name), user.uid, user.gid)
}

/**
 * Runs the first job of a workflow as a GitHub self-hosted runner does: writes the dispatch event
 * to `GITHUB_EVENT_PATH`, sets the `GITHUB_*` and `RUNNER_*` variables, runs the job-started hook,
 * each step (`run:` through its shell with `{0}` the script file; `actions/checkout` clones the
 * run's commit; other actions are skipped), then the job-completed hook, then kills what the job
 * left running (by its `RUNNER_TRACKING_ID`, as GitHub's runner does). A failing step skips the
 * rest; a failing hook fails the job. The completed hook runs whatever happened before it.
 *
 * With `user`, the runner is the ephemeral runner README's "Install on a GitHub self-hosted
 * runner" sets up, in a service whose processes all end with it: everything the job started
 * (hooks, checkout, steps, and whatever they left, tracking variable or not) runs in a job scope
 * (agent/isolation/job-scope.ts) that is killed at the job's end, and a job does not start while
 * another job's processes run as that user.
 */
export async function runAsSelfHostedRunner(
  runner: SelfHostedRunner,
  workflow: ParsedWorkflow,
  ctx: RunJobContext,
): Promise<RunJobOutcome> {
  const { run, repo } = ctx
  let log = ''
  const say = (text: string) => {
    log += text
    runner.onLog?.(text)
  }
  let scope: JobScope | undefined
  if (runner.user) {
    try {
      scope = await openJobScope(
        {
          name: runner.user.name ?? String(runner.user.uid),
          uid: runner.user.uid,
          gid: runner.user.gid,
        },
        // Unique to this job on this host: two stand-ins (two stacks) number their runs alike.
        `github-${run.id}-${run.run_attempt}-${randomUUID().slice(0, 8)}`,
        runner.scope,
      )
    } catch (e) {
      say(`The runner could not start the job: ${(e as Error).message}\n`)
      return { conclusion: 'failure', log }
    }
  }
  const temp = await mkdtemp(join(runner.workDir, '_temp-'))
  const workspace = join(runner.workDir, repo.name, repo.name)
  await rm(workspace, { recursive: true, force: true })
  await mkdir(workspace, { recursive: true })
  const eventPath = join(temp, '_github_workflow', 'event.json')
  await mkdir(join(temp, '_github_workflow'), { recursive: true })
  await writeFile(eventPath, JSON.stringify(ctx.event))
  const files = ['env', 'output', 'path', 'step_summary', 'state']
  for (const f of files) await writeFile(join(temp, `_runner_file_commands_${f}`), '')
  if (runner.user) {
    await giveTo(temp, runner.user)
    await giveTo(join(runner.workDir, repo.name), runner.user)
  }
  const ref = `refs/heads/${run.head_branch}`
  const github: Record<string, string> = {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTION: '__run',
    GITHUB_ACTOR: 'zkrunner-worker',
    GITHUB_API_URL: ctx.serverUrl,
    GITHUB_EVENT_NAME: run.event,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_GRAPHQL_URL: `${ctx.serverUrl}/graphql`,
    GITHUB_JOB: ctx.workflow.jobName,
    GITHUB_REF: ref,
    GITHUB_REF_NAME: run.head_branch,
    GITHUB_REF_TYPE: 'branch',
    GITHUB_REPOSITORY: `${repo.owner}/${repo.name}`,
    GITHUB_REPOSITORY_OWNER: repo.owner,
    GITHUB_RUN_ATTEMPT: String(run.run_attempt),
    GITHUB_RUN_ID: String(run.id),
    GITHUB_RUN_NUMBER: String(run.run_number),
    GITHUB_SERVER_URL: ctx.serverUrl,
    GITHUB_SHA: run.head_sha,
    GITHUB_WORKFLOW: run.name,
    GITHUB_WORKFLOW_REF: `${repo.owner}/${repo.name}/${run.path}@${ref}`,
    GITHUB_WORKFLOW_SHA: run.head_sha,
    GITHUB_WORKSPACE: workspace,
    GITHUB_ENV: join(temp, '_runner_file_commands_env'),
    GITHUB_OUTPUT: join(temp, '_runner_file_commands_output'),
    GITHUB_PATH: join(temp, '_runner_file_commands_path'),
    GITHUB_STEP_SUMMARY: join(temp, '_runner_file_commands_step_summary'),
    GITHUB_STATE: join(temp, '_runner_file_commands_state'),
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'zkrunner-standin',
    RUNNER_OS: 'Linux',
    RUNNER_TEMP: temp,
    // What the runner's orphan clean-up finds a job's processes by (killOrphans).
    RUNNER_TRACKING_ID: `github_${randomUUID()}`,
    RUNNER_WORKSPACE: join(runner.workDir, repo.name),
  }
  const context = {
    inputs: run.inputs,
    github: {
      sha: run.head_sha,
      run_id: String(run.id),
      ref,
      workspace,
      repository: github.GITHUB_REPOSITORY!,
    },
  }
  const expand = (o: Record<string, string>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, expandExpressions(v, context)]))
  // Hooks get the runner's environment and GitHub's variables; steps also get the job's `env:`.
  const hookEnv = { ...runner.env, ...github }
  const jobEnv = { ...hookEnv, ...expand(workflow.env) }

  const exec = (argv: string[], env: NodeJS.ProcessEnv, cwd: string) =>
    new Promise<number>((resolve) => {
      const options = {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
        ...(runner.user ? { uid: runner.user.uid, gid: runner.user.gid } : {}),
      }
      const child = scope
        ? spawnInScope(scope, argv, options)
        : spawn(argv[0]!, argv.slice(1), options)
      child.stdout!.on('data', (b: Buffer) => say(b.toString()))
      child.stderr!.on('data', (b: Buffer) => say(b.toString()))
      child.on('error', (e) => {
        say(`${argv[0]}: ${e.message}\n`)
        resolve(127)
      })
      child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })

  let failed = false
  try {
    if (runner.hooks?.started) {
      say('A job started hook has been configured by the self-hosted runner administrator\n')
      if ((await exec(runner.hooks.started, hookEnv, workspace)) !== 0) failed = true
    }
    for (const step of workflow.steps) {
      if (failed) break
      if ('uses' in step) {
        if (!step.uses.startsWith('actions/checkout@')) {
          say(`Skipping ${step.uses}: the stand-in runs no actions but checkout\n`)
          continue
        }
        say(`Run ${step.uses}\n`)
        const git = ['git', '-c', 'advice.detachedHead=false']
        // As a fetch from the server would: through upload-pack, not the local shortcut, which
        // git refuses on a repository of another user (safe.directory); the source is the
        // stand-in's own, trusted like GitHub's.
        const source = existsSync(join(runner.checkoutFrom, '.git'))
          ? join(runner.checkoutFrom, '.git')
          : runner.checkoutFrom
        if (
          (await exec(
            [
              ...git,
              'clone',
              '--quiet',
              '--no-local',
              '--upload-pack',
              `git -c safe.directory='${source.replaceAll("'", `'\\''`)}' upload-pack`,
              runner.checkoutFrom,
              workspace,
            ],
            jobEnv,
            runner.workDir,
          )) !== 0 ||
          (await exec([...git, 'checkout', '--quiet', run.head_sha], jobEnv, workspace)) !== 0
        )
          failed = true
        continue
      }
      const script = join(temp, `${randomUUID()}.sh`)
      await writeFile(script, step.run)
      if (runner.user) await chown(script, runner.user.uid, runner.user.gid)
      const shell = (step.shell ?? workflow.shell ?? DEFAULT_SHELL).split(/\s+/).filter(Boolean)
      const argv = shell.includes('{0}')
        ? shell.map((a) => a.replace('{0}', script))
        : [...shell, script]
      say(`Run ${step.name ?? step.run.split('\n')[0]}\n`)
      const code = await exec(argv, { ...jobEnv, ...expand(step.env) }, workspace)
      if (code !== 0) {
        say(`Error: Process completed with exit code ${code}.\n`)
        failed = true
      }
    }
  } finally {
    if (runner.hooks?.completed) {
      say('A job completed hook has been configured by the self-hosted runner administrator\n')
      if ((await exec(runner.hooks.completed, hookEnv, workspace)) !== 0) failed = true
    }
    const orphans = await killOrphans(github.RUNNER_TRACKING_ID!)
    if (orphans.length > 0) {
      say('Cleaning up orphan processes\n')
      for (const o of orphans) say(`Terminate orphan process: pid (${o.pid}) (${o.name})\n`)
    }
    // What dropped the tracking variable: the whole scope ends with the job.
    const left = await scope?.end().catch((e: Error) => {
      say(`The job's processes could not all be ended: ${e.message}\n`)
      failed = true
      return 0
    })
    if (left) say(`Ended ${left} process(es) the job left running as ${scope!.user.name}\n`)
    await rm(temp, { recursive: true, force: true })
  }
  return { conclusion: failed ? 'failure' : 'success', log }
}

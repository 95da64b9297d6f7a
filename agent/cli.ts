import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Command, Option } from 'commander'
import { isPrivateCommitment } from '../protocol/index.ts'
import { checkedOutCommit } from './checkout-commit.ts'
import { type AgentConfig, loadConfig } from './config.ts'
import { AgentError, AgentErrorCode } from './errors.ts'
import { ensureJobDir, prepareBuildsDir } from './executor/builds-dir.ts'
import {
  claimJobUser,
  endJobScope,
  enterJobScope,
  executorConfig,
  failureCodes,
  jobFromEnv,
  runPlain,
  SAMPLED_STAGES,
} from './executor/executor.ts'
import { freshJobFiles, jobHomeEnv } from './executor/fresh-job-files.ts'
import { githubJobVariables, inGithubActions } from './github/github-job.ts'
import { customEnv, jobEnvironment } from './isolation/job-env.ts'
import { checkKeyExposure, jobIsolation, userEnv } from './isolation/job-user.ts'
import { checkKeyPlacement } from './isolation/key-placement.ts'
import { denyScheduling } from './isolation/schedule-deny.ts'
import { scriptFor } from './isolation/stage-script.ts'
import { jobIdentity } from './job-identity.ts'
import { generateRunnerKey, loadRunnerKey } from './keys.ts'
import { progressDeps, runCommand, withNode } from './pipeline/run-command.ts'
import { Spool } from './spool/spool.ts'

/**
 * `call` from a job the signer runs: the signer holds the key, the budgets and the ledger, and
 * knows the job by the token it gave it (ZKRUNNER_CALL_TOKEN), never by what the job says.
 */
async function callViaSigner(
  socket: string,
  opts: { driver: string; params: string[]; wait: boolean; out?: string },
) {
  const [{ callThroughSigner }, { CALL_TOKEN_VARIABLE }] = await Promise.all([
    import('./signer/signer-client.ts'),
    import('./signer/call-grants.ts'),
  ])
  const token = process.env[CALL_TOKEN_VARIABLE]
  if (!token)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `call through the signer runs inside a job the signer runs (${CALL_TOKEN_VARIABLE} is not set)`,
    )
  const outer = process.env.ZKRUNNER_JOB_ID ?? 'job'
  return callThroughSigner(
    socket,
    { v: 1, op: 'call', token, driver: opts.driver, params: opts.params, wait: opts.wait },
    opts.out ?? join(process.cwd(), 'zkrunner-calls', /^[0-9a-f]{32}$/.test(outer) ? outer : 'job'),
  )
}

/** Where the signer listens unless `signerSocket` says otherwise. */
const DEFAULT_SIGNER_SOCKET = '/run/zkrunner/signer.sock'

const VERSION = '0.1.0'
type GlobalFlags = Partial<Record<keyof AgentConfig | 'config', unknown>>

function configOf(cmd: Command): AgentConfig {
  const o = cmd.optsWithGlobals() as Record<string, unknown>
  const flags: GlobalFlags = {
    config: o.config,
    dataDir: o.dataDir,
    workerUrl: o.workerUrl,
    minaGraphqlUrl: o.minaGraphqlUrl,
    intervalMs: o.interval,
    perf: o.perf,
    cgroup: o.cgroup,
    metricsListen: o.metricsListen,
    gatewayListen: o.listen,
    announce: o.announce,
    signerSocket: o.signer ?? o.socket,
  }
  return loadConfig(flags)
}

/**
 * A GitHub job hook. `started` runs before any step: it validates the job's identity from the
 * event file (a bad one fails the job) and compares the run's commit (`GITHUB_SHA`; the checkout
 * has not happened yet) with the source commitment; on a mismatch it spools, signs, pins and
 * reports a not-run result and fails the job, so no step runs. `completed` checks that a step ran
 * the job under the agent and prints its bundle CID; a zkrunner job that left no result fails.
 * A run that is not a zkrunner job passes both untouched.
 */
async function githubHook(config: AgentConfig, when: string): Promise<number> {
  if (when !== 'started' && when !== 'completed')
    throw new AgentError('EXECUTOR_USAGE', `hook must be started or completed, not ${when}`)
  const job = githubJobVariables(process.env)
  if (!job) return 0
  // A hook runs outside the job's `env:`, so it cannot see the parameters the step will: it takes
  // them as dispatched (their schema is still checked); `run` checks them against the step.
  const vars = { ...job, ...dispatchedParameters(job.ZKRUNNER_PARAMETERS) }
  const cwd = process.env.GITHUB_WORKSPACE ?? process.cwd()
  // Before the checkout there is only the run's claim, GITHUB_SHA (jobIdentity's fallback).
  const identity = jobIdentity(vars, cwd, { privateSources: config.privateSources })
  const { jobId } = identity.meta
  const spool = new Spool(config.dataDir)
  const signer = config.signerSocket
    ? await import('./signer/signer-client.ts').then((m) => ({
        ...m,
        socket: config.signerSocket!,
      }))
    : null
  if (when === 'completed') {
    // With a signer, the spool is the signer's (root's): it says where the job stands.
    const held = signer
      ? await signer.signerJobStatus(signer.socket, jobId)
      : existsSync(spool.jobDir(jobId))
        ? await spool.state(jobId)
        : { phase: null }
    if (held.phase === null) {
      process.stderr.write(
        `zkrunner: ALERT: zkrunner job ${jobId} ended without a result: no step ran it under zkrunner-agent (see "Install on a GitHub self-hosted runner")\n`,
      )
      return 1
    }
    process.stderr.write(`zkrunner: job ${jobId} ${held.phase}\n`)
    if (held.bundleCid) process.stdout.write(`${held.bundleCid}\n`)
    return 0
  }
  // The key is the signer's when there is one (it checks where its own data dir sits): this hook
  // runs as the job's user, whose own data dir holds no key.
  if (!signer) checkKeyPlacement(config, [cwd])
  // A private commitment opens only with the signer's own privateSources, which this hook (the
  // job's user) does not hold: the signer decides it, as it decides every mismatch.
  const signerDecides =
    signer !== null &&
    (identity.mismatch !== undefined || isPrivateCommitment(identity.meta.sourceCommitment))
  if (!identity.mismatch && !signerDecides) {
    if (!signer) await loadRunnerKey(config)
    process.stderr.write(`zkrunner: job ${jobId} for ${identity.meta.user}: checked\n`)
    return 0
  }
  if (signer) {
    // The signer checks the same variables (no checkout read: nothing is checked out yet) and
    // signs the not-run result of a mismatch itself; on a match it runs nothing.
    const code = await signer.runThroughSigner(signer.socket, {
      v: 1,
      op: 'run',
      command: 'true',
      args: [],
      cwd,
      vars: Object.fromEntries(
        Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined),
      ),
      options: { artifacts: [], passEnv: [], readCheckout: false, mismatchOnly: true },
    })
    if (code === 0)
      process.stderr.write(
        `zkrunner: job ${jobId} for ${identity.meta.user}: checked by the signer\n`,
      )
    return code
  }
  const isolation = jobIsolation(config.jobUser)
  return runCommand(config, {
    meta: {
      ...identity.meta,
      command: 'true',
      args: [],
      mode: 'run',
      createdAt: new Date().toISOString(),
    },
    env: {},
    isolation,
    mismatch: identity.mismatch,
    ranFrom: identity.ranFrom,
    jobDirs: [cwd],
  })
}

/** The string values of a `ZKRUNNER_PARAMETERS` JSON object; nothing when it is not one. */
function dispatchedParameters(text: string | undefined): Record<string, string> {
  try {
    const value = JSON.parse(text ?? '') as unknown
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {}
    return Object.fromEntries(
      Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
    )
  } catch {
    return {}
  }
}

/** The options that were given (a strict request has no `undefined` members). */
function definedOptions(o: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string'),
  )
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** Builds the commander program (exported for tests that drive it in-process). */
export function buildProgram(): Command {
  const program = new Command('zkrunner-agent')
    .description(
      'zkrunner runner agent: run CI jobs under perf, pin signed result bundles to IPFS, report and settle',
    )
    .version(VERSION)
    .option(
      '--config <file>',
      'JSON config file (default $ZKRUNNER_CONFIG or /etc/zkrunner/agent.json)',
    )
    .option('--data-dir <dir>', 'spool, IPFS blockstore and runner key ($ZKRUNNER_DATA_DIR)')
    .option('--worker-url <url>', 'zkrunner Worker base URL ($ZKRUNNER_WORKER_URL)')
    .option(
      '--mina-graphql-url <url>',
      'Mina GraphQL endpoint for settle ($ZKRUNNER_MINA_GRAPHQL_URL)',
    )
    .option(
      '--announce',
      'start libp2p and announce bundles to the public IPFS network (off by default)',
    )
    .showHelpAfterError()

  program
    .command('run')
    .description(
      'run a command as a zkrunner job: sample it, bundle, sign, pin, report and queue for settlement',
    )
    .option('--job <id>', 'job id, 32 hex digits ($ZKRUNNER_JOB_ID)')
    .option('--service <address>', 'service contract address ($ZKRUNNER_SERVICE)')
    .option('--user <publicKey>', 'paying user ($ZKRUNNER_USER)')
    .option(
      '--source-commitment <sha>',
      'commit SHA of the service version ($ZKRUNNER_SOURCE_COMMITMENT, $CI_COMMIT_SHA)',
    )
    .option(
      '--artifact <path>',
      'artifact to include in the bundle (repeatable; $ZKRUNNER_ARTIFACTS)',
      collect,
      [],
    )
    .option(
      '--pass-env <name>',
      'a job parameter to pass to the command from this environment (repeatable; the parameters named in $ZKRUNNER_PARAMETERS pass too); other variables are not passed',
      collect,
      [],
    )
    .option('--interval <ms>', 'sampling interval ($ZKRUNNER_INTERVAL_MS, default 100)')
    .addOption(
      new Option('--perf <mode>', 'use perf stat when it works ($ZKRUNNER_PERF)').choices([
        'auto',
        'off',
      ]),
    )
    .option('--no-cgroup', 'do not create a cgroup for the job')
    .option(
      '--metrics-listen <host:port>',
      'serve Prometheus /metrics while the job runs, empty to disable',
    )
    .option(
      '--signer <socket>',
      'ask the signer on this unix socket to run, observe and sign the job: for a job whose own user calls the agent, which must not hold the key ($ZKRUNNER_SIGNER_SOCKET)',
    )
    .argument('<command>', 'command to run (after --)')
    .argument('[args...]', 'its arguments')
    .action(
      async (command: string, args: string[], opts: Record<string, unknown>, cmd: Command) => {
        const config = configOf(cmd)
        // Called from the job's own script: its environment holds the CI variables. On GitHub
        // the job's identity comes from the dispatch inputs in the event file.
        const github = inGithubActions(process.env)
        const env = (github && githubJobVariables(process.env)) || process.env
        if (config.signerSocket) {
          // The signer (another user) runs, observes and signs the job; this process holds no key.
          const { runThroughSigner } = await import('./signer/signer-client.ts')
          process.exitCode = await runThroughSigner(config.signerSocket, {
            v: 1,
            op: 'run',
            command,
            args,
            cwd: process.cwd(),
            vars: Object.fromEntries(
              Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
            ),
            options: {
              ...definedOptions({
                jobId: opts.job,
                service: opts.service,
                user: opts.user,
                sourceCommitment: opts.sourceCommitment,
              }),
              artifacts: opts.artifact as string[],
              passEnv: opts.passEnv as string[],
            },
          })
          return
        }
        const isolation = jobIsolation(config.jobUser)
        const identity = jobIdentity(env, process.cwd(), {
          jobId: opts.job as string | undefined,
          service: opts.service as string | undefined,
          user: opts.user as string | undefined,
          sourceCommitment: opts.sourceCommitment as string | undefined,
          artifacts: opts.artifact as string[],
          newJobId: true,
          checkout: checkedOutCommit(process.cwd(), isolation.user),
          privateSources: config.privateSources,
        })
        process.exitCode = await runCommand(config, {
          meta: {
            ...identity.meta,
            command,
            args,
            mode: 'run',
            createdAt: new Date().toISOString(),
          },
          env: jobEnvironment({
            host: env,
            ci: env,
            parameters: opts.passEnv as string[],
            overrides: userEnv(isolation),
          }),
          isolation,
          mismatch: identity.mismatch,
          ranFrom: identity.ranFrom,
          jobDirs: [env.CI_BUILDS_DIR, env.CI_PROJECT_DIR, env.GITHUB_WORKSPACE],
        })
      },
    )

  program
    .command('signer')
    .description(
      "hold the runner key for `run` called by the job's own user (as root): run a job only when the Worker dispatched it and the provider has it running on this runner, for a project it serves ($ZKRUNNER_PROVIDER, $ZKRUNNER_PROVIDER_API_URL, $ZKRUNNER_PROVIDER_TOKEN, $ZKRUNNER_RUNNER_NAME, $ZKRUNNER_SERVED_PROJECTS, optional $ZKRUNNER_RUNNER_ID), as jobUser; observe it and sign only that",
    )
    .option(
      '--socket <path>',
      `unix socket to listen on, opened to the job user's group ($ZKRUNNER_SIGNER_SOCKET, default ${DEFAULT_SIGNER_SOCKET})`,
    )
    .action(async (_o, cmd: Command) => {
      const config = configOf(cmd)
      const isolation = jobIsolation(config.jobUser)
      checkKeyPlacement(config)
      checkKeyExposure(isolation, process.env)
      await loadRunnerKey(config)
      const { startSigner } = await import('./signer/signer-server.ts')
      const log = (line: string) => process.stderr.write(`zkrunner-signer: ${line}\n`)
      const signer = await startSigner(
        config,
        isolation,
        config.signerSocket ?? DEFAULT_SIGNER_SOCKET,
        log,
      )
      log(`listening on ${signer.socketPath}; jobs run as ${isolation.user?.name}`)
      const stop = () => void signer.close().finally(() => process.exit(0))
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })

  program
    .command('output')
    .description(
      "inside a job: write one of the service's declared outputs (checked by the agent after the job, signed in the manifest)",
    )
    .argument('<name>', 'the output name the service descriptor declares')
    .argument(
      '<value>',
      'its value: a decimal integer, true/false, a hex SHA-256, a CID or short text',
    )
    .action(async (name: string, value: string) => {
      const { writeOutput, OUTPUTS_FILE_VARIABLE, outputsFilePath } = await import(
        './outputs/outputs-file.ts'
      )
      const { parseJsonWith, OutputSpecsSchema } = await import('../protocol/index.ts')
      const env = process.env
      // The agent names the file; by hand (a script tried outside the agent) the workspace's.
      const file =
        env[OUTPUTS_FILE_VARIABLE] ||
        outputsFilePath(env.CI_PROJECT_DIR ?? env.GITHUB_WORKSPACE ?? process.cwd())
      const specs = env.ZKRUNNER_OUTPUTS
        ? parseJsonWith(OutputSpecsSchema, env.ZKRUNNER_OUTPUTS)
        : undefined
      if (specs && !specs.ok)
        throw new AgentError('EXECUTOR_USAGE', `ZKRUNNER_OUTPUTS: ${specs.error.message}`)
      await writeOutput({ file, name, value, ...(specs ? { specs: specs.value } : {}) })
    })

  program
    .command('call')
    .description(
      "inside a job: run another service (a driver) as this runner's user, wait for its result, verify every link with the shared verifier, and print the inner bundle CID",
    )
    .argument('<service>', 'the driver service contract address')
    .option('--param <NAME=VALUE>', 'a parameter of the driver (repeatable)', collect, [])
    .option(
      '--wait',
      'wait for the driver result, verify it and write its files and outputs (without it: print the job id and return)',
    )
    .option(
      '--out <dir>',
      'where the verified files and outputs.json go (default ./zkrunner-calls/<job id>)',
    )
    .addHelpText(
      'after',
      `
With a signer ($ZKRUNNER_SIGNER_SOCKET, set in the jobs the signer runs): the signer makes the
call for the job its $ZKRUNNER_CALL_TOKEN names, with its own key, budgets and ledger, none of
which the job can reach. Without one, the call is made in this process, which then must hold the
key (a job that runs as the agent's own user); it needs, in the agent config: callBudgetPerJob
and callBudgetPerService (credits; no voucher is signed beyond either), gateways, genuineCode,
creditToken; and the outer job's ZKRUNNER_JOB_ID, ZKRUNNER_SERVICE (and ZKRUNNER_CALL_PATH when
the outer job is itself a driver call).
Prints the inner job id, then with --wait the inner bundle CID on its own line. Fails
(CALL_REFUSED, CALL_BUDGET_EXHAUSTED, CALL_FAILED, CALL_UNVERIFIED naming the broken link)
before the outer job may use anything it did not verify.`,
    )
    .action(
      async (
        service: string,
        opts: { param: string[]; wait?: boolean; out?: string },
        cmd: Command,
      ) => {
        const config = configOf(cmd)
        const callOpts = {
          driver: service,
          params: opts.param,
          wait: opts.wait === true,
          ...(opts.out ? { out: opts.out } : {}),
        }
        const result = config.signerSocket
          ? await callViaSigner(config.signerSocket, callOpts)
          : await import('./call/call-command.ts').then((m) =>
              m.runCall(config, callOpts, process.env, (line) =>
                process.stderr.write(`zkrunner-agent call: ${line}\n`),
              ),
            )
        process.stderr.write(`zkrunner-agent call: driver job ${result.jobId}\n`)
        if (result.result) {
          process.stderr.write(
            `zkrunner-agent call: verified; files and outputs.json in ${result.result.outDir}\n`,
          )
          process.stdout.write(`${result.result.bundleCid}\n`)
        } else process.stdout.write(`${result.jobId}\n`)
      },
    )

  const github = program
    .command('github')
    .description('GitHub Actions self-hosted runner: job hooks')
  github
    .command('hook')
    .description(
      'ACTIONS_RUNNER_HOOK_JOB_STARTED / _COMPLETED: check a zkrunner job before its steps, then that it left a result',
    )
    .argument('<when>', '`started` or `completed`')
    .action(async (when: string, _o, cmd: Command) => {
      try {
        process.exitCode = await githubHook(configOf(cmd), when)
      } catch (e) {
        process.stderr.write(
          `zkrunner: ${e instanceof AgentError ? `${e.code}: ` : ''}${(e as Error).message}\n`,
        )
        process.exitCode = 1
      }
    })

  const executor = program
    .command('executor')
    .description(
      'GitLab Runner custom executor (config_exec, prepare_exec, run_exec, cleanup_exec)',
    )
  executor
    .command('config')
    .description('print the executor configuration JSON for GitLab Runner')
    .action((_o, cmd: Command) => {
      const config = configOf(cmd)
      checkKeyPlacement(config)
      process.stdout.write(`${JSON.stringify(executorConfig(config, VERSION))}\n`)
    })
  executor
    .command('prepare')
    .description('check the runner key and the job user; give the job user the builds dir')
    .action(async (_o, cmd: Command) => {
      try {
        const config = configOf(cmd)
        checkKeyPlacement(config)
        const isolation = jobIsolation(config.jobUser)
        checkKeyExposure(isolation, process.env)
        if (jobFromEnv(process.env, process.cwd())) await loadRunnerKey(config)
        // Claimed first: no process of the user runs while its files are made fresh.
        await claimJobUser(process.env, isolation.user)
        await prepareBuildsDir(config.buildsDir, isolation.user)
        if (isolation.user) {
          try {
            denyScheduling(isolation.user.name)
          } catch (e) {
            // A read-only /etc: say so, as cron or at (if installed) would let the user schedule.
            process.stderr.write(
              `zkrunner: could not put ${isolation.user.name} in /etc/cron.deny and /etc/at.deny (${(e as Error).message}): do it by hand if cron or at is installed\n`,
            )
          }
          await freshJobFiles(config.buildsDir, isolation.user)
        }
      } catch (e) {
        process.stderr.write(`zkrunner: ${(e as Error).message}\n`)
        process.exitCode = failureCodes(process.env).system
      }
    })
  executor
    .command('run')
    .description(
      'run one stage script: the job script is sampled and bundled, other stages run plainly',
    )
    .argument('<script>', 'path of the stage script GitLab Runner generated')
    .argument('<stage>', 'stage name (prepare_script, get_sources, step_script, …)')
    .action(async (script: string, stage: string, _o, cmd: Command) => {
      const codes = failureCodes(process.env)
      try {
        const config = configOf(cmd)
        const isolation = jobIsolation(config.jobUser)
        checkKeyExposure(isolation, process.env)
        // Before anything of the job runs: all of it is born in the job's scope.
        await enterJobScope(process.env, isolation.user)
        const job = jobFromEnv(
          process.env,
          process.cwd(),
          SAMPLED_STAGES.has(stage) ? isolation.user : undefined,
          config.privateSources,
        )
        const ci = customEnv(process.env)
        // Every stage of every job, zkrunner's or not, runs with the job's variables only and as
        // the job user: none of them may read the runner key.
        const env = jobEnvironment({
          host: process.env,
          ci,
          overrides: { ...userEnv(isolation), ...jobHomeEnv(config.buildsDir, isolation) },
        })
        const staged = await scriptFor(script, isolation.user)
        let code: number
        try {
          if (job && SAMPLED_STAGES.has(stage)) {
            await ensureJobDir(job.meta.cwd, isolation.user)
            const { withJobCalls } = await import('./executor/job-calls.ts')
            // The job's driver calls come back to this agent (root), which holds the key.
            code = await withJobCalls(
              config,
              isolation,
              {
                jobId: job.meta.jobId,
                service: job.meta.service,
                ...(job.meta.callPath?.length ? { callPath: job.meta.callPath } : {}),
              },
              (callEnv) =>
                runCommand(config, {
                  meta: {
                    ...job.meta,
                    command: 'bash',
                    args: [staged.path],
                    mode: 'executor',
                    createdAt: new Date().toISOString(),
                  },
                  env: { ...env, ...callEnv },
                  isolation,
                  mismatch: job.mismatch,
                  ranFrom: job.ranFrom,
                  jobDirs: [ci.CI_BUILDS_DIR, ci.CI_PROJECT_DIR],
                }),
              (line) => process.stderr.write(`zkrunner: ${line}\n`),
            )
          } else {
            code = await runPlain(staged.path, process.cwd(), env, isolation.user)
          }
        } finally {
          await staged.dispose()
        }
        process.exitCode = code === 0 ? 0 : codes.build
      } catch (e) {
        process.stderr.write(
          `zkrunner: ${e instanceof AgentError ? `${e.code}: ` : ''}${(e as Error).message}\n`,
        )
        process.exitCode = codes.system
      }
    })
  executor
    .command('cleanup')
    .description(
      'end everything the job left running (its job scope); bundles stay spooled until settled',
    )
    .action(async (_o, cmd: Command) => {
      try {
        const isolation = jobIsolation(configOf(cmd).jobUser)
        const ended = await endJobScope(process.env, isolation.user)
        if (ended > 0)
          process.stderr.write(`zkrunner: ended ${ended} process(es) the job left running\n`)
      } catch (e) {
        process.stderr.write(
          `zkrunner: ${e instanceof AgentError ? `${e.code}: ` : ''}${(e as Error).message}\n`,
        )
        process.exitCode = failureCodes(process.env).system
      }
    })

  program
    .command('resume')
    .description(
      'after a crash or reboot: finish, re-pin, re-report and re-queue every unfinished spooled job',
    )
    .action(async (_o, cmd: Command) => {
      const config = configOf(cmd)
      const runner = await loadRunnerKey(config)
      const spool = new Spool(config.dataDir)
      const { resumeAll } = await import('./pipeline/advance-job.ts')
      const progress = await progressDeps()
      const results = await withNode(config, (helia) =>
        resumeAll({
          spool,
          helia,
          runner,
          report: { workerUrl: config.workerUrl, attempts: config.reportAttempts },
          ...progress,
        }),
      )
      for (const r of results)
        process.stdout.write(`${r.jobId} ${r.phase}${r.error ? ` (${r.error})` : ''}\n`)
      if (results.some((r) => r.error)) process.exitCode = 1
    })

  program
    .command('settle')
    .description('send one settlement transaction per user covering every queued job')
    .option('--user <publicKey>', 'only this user')
    .action(async (opts: { user?: string }, cmd: Command) => {
      const config = configOf(cmd)
      const creditToken = config.creditToken
      if (!creditToken)
        throw new AgentError(
          'INVALID_CONFIG',
          'settle needs the credit token address ($ZKRUNNER_CREDIT_TOKEN)',
        )
      const runner = await loadRunnerKey(config)
      // o1js is loaded only here: `run` never pays its start-up time or memory.
      const { openContractsSettler } = await import('./settle/contracts-settler.ts')
      const { settleQueued } = await import('./settle/settle-queue.ts')
      // The node is opened for the leaves documents: each settlement pins its own.
      const results = await withNode(config, async (helia) => {
        const settler = await openContractsSettler({
          runner,
          feePayerKey: config.feePayerKey,
          fee: config.txFee,
          creditToken,
          minaGraphqlUrl: config.minaGraphqlUrl,
          archiveUrl: config.archiveUrl,
          networkId: config.networkId,
          prove: config.prove,
          cacheDir: config.o1jsCacheDir ?? join(config.dataDir, 'o1js-cache'),
          ipfs: helia,
        })
        return settleQueued(new Spool(config.dataDir), settler, opts)
      })
      for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`)
      if (results.some((r) => 'error' in r)) process.exitCode = 1
    })

  program
    .command('gateway')
    .description('serve pinned bundles as an IPFS trustless gateway (raw blocks and CAR)')
    .option(
      '--listen <host:port>',
      'address to listen on ($ZKRUNNER_GATEWAY_LISTEN, default 127.0.0.1:8090)',
    )
    .action(async (_o, cmd: Command) => {
      const config = configOf(cmd)
      const { openIpfsNode } = await import('./ipfs/node.ts')
      const { startGateway } = await import('./gateway/server.ts')
      const helia = await openIpfsNode({ dataDir: config.dataDir, announce: config.announce })
      const { url } = await startGateway(helia, config.gatewayListen)
      process.stderr.write(`zkrunner: trustless gateway on ${url}/ipfs/{cid}\n`)
      const stop = () => void helia.stop().finally(() => process.exit(0))
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })

  program
    .command('heartbeat')
    .description(
      "keep the runner's service versions alive: renew each heartbeat at half the Worker's allowed age (a long-running duty)",
    )
    .option(
      '--registry <address>',
      'keep alive every version the runner key lists here and has not retired ($ZKRUNNER_REGISTRY; read through the archive)',
    )
    .option('--service <address...>', 'versions to keep alive besides the registry listings')
    .option(
      '--heartbeat-metrics-listen <host:port>',
      'serve the duty’s /metrics here ("" for none; default 127.0.0.1:9478, apart from the job metrics)',
      '127.0.0.1:9478',
    )
    .option('--once', 'run one round and exit (non-zero if a version failed)')
    .action(
      async (
        opts: {
          registry?: string
          service?: string[]
          heartbeatMetricsListen: string
          once?: boolean
        },
        cmd: Command,
      ) => {
        const config = configOf(cmd)
        const creditToken = config.creditToken
        if (!creditToken)
          throw new AgentError(
            'INVALID_CONFIG',
            'heartbeat needs the credit token address ($ZKRUNNER_CREDIT_TOKEN)',
          )
        const runner = await loadRunnerKey(config)
        const { Registry } = await import('prom-client')
        const { serveMetrics } = await import('./metrics/metrics.ts')
        const { HeartbeatMetrics, heartbeatRound, runHeartbeatDuty } = await import(
          './heartbeat/duty.ts'
        )
        const { chainHeartbeatWorld, networkSlotMs } = await import('./heartbeat/chain-world.ts')
        const registry = new Registry()
        const metrics = new HeartbeatMetrics(registry)
        const world = chainHeartbeatWorld({
          runner,
          feePayerKey: config.feePayerKey,
          fee: config.txFee,
          creditToken,
          workerUrl: config.workerUrl,
          minaGraphqlUrl: config.minaGraphqlUrl,
          archiveUrl: config.archiveUrl,
          networkId: config.networkId,
          prove: config.prove,
          cacheDir: config.o1jsCacheDir ?? join(config.dataDir, 'o1js-cache'),
          registry: opts.registry ?? process.env.ZKRUNNER_REGISTRY,
          services: opts.service ?? [],
        })
        const log = (line: string) => process.stderr.write(`zkrunner: ${line}\n`)
        if (opts.once) {
          const { actions } = await heartbeatRound(world, log, metrics)
          for (const a of actions)
            process.stdout.write(
              `${JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}\n`,
            )
          if (actions.some((a) => a.action === 'failed')) process.exitCode = 1
          return
        }
        const server = opts.heartbeatMetricsListen
          ? await serveMetrics(registry, opts.heartbeatMetricsListen)
          : null
        if (opts.heartbeatMetricsListen && !server)
          log(`heartbeat metrics: ${opts.heartbeatMetricsListen} is taken; not serving /metrics`)
        const abort = new AbortController()
        process.once('SIGINT', () => abort.abort())
        process.once('SIGTERM', () => abort.abort())
        log('heartbeat duty started')
        await runHeartbeatDuty(world, {
          slotMs: networkSlotMs(),
          log,
          metrics,
          signal: abort.signal,
        })
        server?.close()
      },
    )

  program
    .command('keygen')
    .description(
      'create the runner oracle key in the data directory (kept if it exists) and print its public key',
    )
    .option('--force', 'replace an existing key')
    .action(async (opts: { force?: boolean }, cmd: Command) => {
      const config = configOf(cmd)
      const pair = await generateRunnerKey(config.dataDir, opts.force)
      process.stdout.write(`${pair.publicKey}\n`)
    })

  program
    .command('status')
    .description('list spooled jobs and their phase')
    .action(async (_o, cmd: Command) => {
      const spool = new Spool(configOf(cmd).dataDir)
      for (const id of await spool.list()) {
        const s = await spool.state(id).catch(() => null)
        process.stdout.write(
          `${id} ${s?.phase ?? 'corrupt'} ${s?.bundleCid ?? ''}${s?.notCharged ? ` not charged: ${s.notCharged}` : ''}${s?.lastError ? ` (${s.lastError})` : ''}\n`,
        )
      }
    })
  return program
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv)
  } catch (e) {
    // By name as well as class: `call` is a bundle of its own (scripts/build-agent.mjs), with its
    // own copy of AgentError.
    const agentError = e instanceof AgentError || (e instanceof Error && e.name === 'AgentError')
    const code = agentError ? `${(e as AgentError).code}: ` : ''
    process.stderr.write(`zkrunner-agent: ${code}${(e as Error).message.split('\n')[0]}\n`)
    process.exitCode = 1
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

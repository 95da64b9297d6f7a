import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { constants } from 'node:os'
import { isAbsolute, join, normalize } from 'node:path'
import type { SingleBar } from 'cli-progress'
import { Command, Option } from 'commander'
import type { Helia } from 'helia'
import { type AgentConfig, loadConfig } from './config.ts'
import { AgentError } from './errors.ts'
import {
  executorConfig,
  failureCodes,
  jobFromEnv,
  runPlain,
  SAMPLED_STAGES,
} from './executor/executor.ts'
import { requestParameters } from './executor/request-parameters.ts'
import { generateRunnerKey, loadRunnerKey } from './keys.ts'
import type { AdvanceDeps } from './pipeline/advance-job.ts'
import { startJob } from './pipeline/start-job.ts'
import { type JobMeta, Spool } from './spool/spool.ts'

const VERSION = '0.1.0'
/** Large bundles get progress bars; small ones would only flicker. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024

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
  }
  return loadConfig(flags)
}

// Helia, the bundle code, prom-client and o1js are imported where they are used: while a job runs
// the agent holds only the sampler, which keeps its memory and start-up small.

async function progressDeps(): Promise<Pick<AdvanceDeps, 'onHashProgress' | 'onPinBlock'>> {
  const { SingleBar } = await import('cli-progress')
  let bar: SingleBar | undefined
  return {
    onHashProgress: (done, total) => {
      if (total < PROGRESS_MIN_BYTES || !process.stderr.isTTY) return
      if (!bar) {
        bar = new SingleBar({
          format: 'zkrunner: hashing+importing [{bar}] {percentage}% {value}/{total} MiB',
          stream: process.stderr,
        })
        bar.start(Math.ceil(total / 2 ** 20), 0)
      }
      bar.update(Math.floor(done / 2 ** 20))
      if (done >= total) bar.stop()
    },
  }
}

async function withNode<T>(config: AgentConfig, fn: (helia: Helia) => Promise<T>): Promise<T> {
  await mkdir(config.dataDir, { recursive: true })
  const { openIpfsNode } = await import('./ipfs/node.ts')
  const helia = await openIpfsNode({ dataDir: config.dataDir, announce: config.announce })
  try {
    return await fn(helia)
  } finally {
    await helia.stop()
  }
}

function exitCodeOf(outcome: { exitCode: number; signal: NodeJS.Signals | null }): number {
  return outcome.signal ? 128 + (constants.signals[outcome.signal] ?? 0) : outcome.exitCode
}

/** Runs one job end to end; returns the job's exit code (finishing steps that fail stay spooled). */
async function runCommand(
  config: AgentConfig,
  meta: JobMeta,
  env?: NodeJS.ProcessEnv,
): Promise<number> {
  const runner = await loadRunnerKey(config)
  const spool = new Spool(config.dataDir)
  if (existsSync(spool.jobDir(meta.jobId)))
    throw new AgentError('INVALID_CONFIG', `job ${meta.jobId} is already spooled`)
  const served = config.metricsListen
    ? await import('./metrics/metrics.ts').then(async ({ JobMetrics, serveMetrics }) => {
        const metrics = new JobMetrics(meta.jobId)
        return { metrics, server: await serveMetrics(metrics.registry, config.metricsListen) }
      })
    : null
  let outcome: Awaited<ReturnType<typeof startJob>>
  try {
    outcome = await startJob({
      spool,
      config,
      meta,
      env,
      onSample: served?.metrics.update.bind(served.metrics),
    })
  } finally {
    served?.metrics.finish()
    served?.server?.close()
  }
  if (outcome.perfUnavailable)
    process.stderr.write(
      `zkrunner: perf not used (${outcome.perfUnavailable}); sampled from procfs/cgroup\n`,
    )
  const { advanceJob } = await import('./pipeline/advance-job.ts')
  const progress = await progressDeps()
  await withNode(config, async (helia) => {
    try {
      const state = await advanceJob(
        {
          spool,
          helia,
          runner,
          report: { workerUrl: config.workerUrl, attempts: config.reportAttempts },
          ...progress,
        },
        meta.jobId,
      )
      process.stderr.write(
        `zkrunner: job ${meta.jobId} ${state.phase}: bundle ${state.bundleCid}\n`,
      )
    } catch (e) {
      const state = await spool.state(meta.jobId)
      if (state.phase !== 'pinned') throw e
      // Pinned and signed but the Worker did not acknowledge: `resume` retries; the job's own result stands.
      process.stderr.write(
        `zkrunner: ${(e as Error).message}; kept in the spool for \`zkrunner-agent resume\`\n`,
      )
    }
  })
  return exitCodeOf(outcome)
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
    .argument('<command>', 'command to run (after --)')
    .argument('[args...]', 'its arguments')
    .action(
      async (command: string, args: string[], opts: Record<string, unknown>, cmd: Command) => {
        const config = configOf(cmd)
        const env = process.env
        const meta: JobMeta = {
          jobId:
            (opts.job as string | undefined) ??
            env.ZKRUNNER_JOB_ID ??
            randomBytes(16).toString('hex'),
          service: (opts.service as string | undefined) ?? env.ZKRUNNER_SERVICE ?? '',
          user: (opts.user as string | undefined) ?? env.ZKRUNNER_USER ?? '',
          sourceCommitment:
            (opts.sourceCommitment as string | undefined) ??
            env.ZKRUNNER_SOURCE_COMMITMENT ??
            env.CI_COMMIT_SHA ??
            '',
          parameters: requestParameters((name) => env[name]),
          command,
          args,
          artifacts: [
            ...(opts.artifact as string[]),
            ...(env.ZKRUNNER_ARTIFACTS ?? '').split(/[,\n]/).filter(Boolean),
          ],
          cwd: process.cwd(),
          createdAt: new Date().toISOString(),
          ...(env.ZKRUNNER_VOUCHER ? { voucher: JSON.parse(env.ZKRUNNER_VOUCHER) as unknown } : {}),
        }
        if (!meta.service || !meta.user || !meta.sourceCommitment)
          throw new AgentError(
            'INVALID_CONFIG',
            'run needs --service, --user and --source-commitment (or their variables)',
          )
        // Artifacts are named relative to the job's directory; say so before the job runs rather
        // than report them missing after it.
        const outside = meta.artifacts.find((a) => isAbsolute(a) || normalize(a).startsWith('..'))
        if (outside !== undefined)
          throw new AgentError(
            'INVALID_CONFIG',
            `artifact ${outside} is outside the job's directory: name artifacts relative to it`,
          )
        process.exitCode = await runCommand(config, meta)
      },
    )

  const executor = program
    .command('executor')
    .description(
      'GitLab Runner custom executor (config_exec, prepare_exec, run_exec, cleanup_exec)',
    )
  executor
    .command('config')
    .description('print the executor configuration JSON for GitLab Runner')
    .action((_o, cmd: Command) => {
      process.stdout.write(`${JSON.stringify(executorConfig(configOf(cmd), VERSION))}\n`)
    })
  executor
    .command('prepare')
    .description('check the runner key before GitLab Runner starts the job')
    .action(async (_o, cmd: Command) => {
      const config = configOf(cmd)
      try {
        if (jobFromEnv(process.env, process.cwd())) await loadRunnerKey(config)
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
        const job = jobFromEnv(process.env, process.cwd())
        let code: number
        if (job && SAMPLED_STAGES.has(stage)) {
          await mkdir(job.cwd, { recursive: true })
          code = await runCommand(config, {
            ...job,
            command: 'bash',
            args: [script],
            createdAt: new Date().toISOString(),
          })
        } else {
          code = await runPlain(script, process.cwd())
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
    .description('nothing to clean: bundles stay spooled until settled')
    .action(() => {})

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
          `${id} ${s?.phase ?? 'corrupt'} ${s?.bundleCid ?? ''}${s?.lastError ? ` (${s.lastError})` : ''}\n`,
        )
      }
    })
  return program
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv)
  } catch (e) {
    const code = e instanceof AgentError ? `${e.code}: ` : ''
    process.stderr.write(`zkrunner-agent: ${code}${(e as Error).message.split('\n')[0]}\n`)
    process.exitCode = 1
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()

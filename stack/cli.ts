import { Command, Option } from 'commander'
import { resolveStackConfig, StackConfigError } from './config.ts'
import { type LocalStack, startStack } from './stack.ts'

/** The providers `--once` runs a job on, in order. */
const PROVIDERS = ['gitlab', 'github'] as const
const TITLES = { gitlab: 'GitLab', github: 'GitHub', sponsored: 'Sponsored' } as const

const program = new Command()
  .name('npm start --')
  .description(
    'The local zkrunner stack on loopback: Mina node, contracts, Worker (workerd), GitLab and GitHub stand-ins, ' +
      'runner agent and IPFS gateway, and the page. The sample is offered on both providers, and as a sponsored service ' +
      "whose jobs a sponsor's pool pays; runs one paid sample job end to end on each provider and one sponsored job, " +
      'and prints every verification link.',
  )
  .addOption(
    new Option(
      '--once',
      'exit after the sample jobs: status 0 only if every link of the three (GitLab, GitHub, sponsored) verified and the pool, not the user, paid the sponsored one',
    ),
  )
  .addOption(
    new Option(
      '--data-dir <dir>',
      'chain, IPFS, Worker state and dev keys (ZKRUNNER_STACK_DATA_DIR, default .zkrunner/stack)',
    ),
  )
  .addOption(
    new Option(
      '--limit <n>',
      "the sample job's LIMIT parameter (ZKRUNNER_STACK_LIMIT, default 20000000)",
    ),
  )
  .addOption(new Option('--chain-port <port>', 'Mina GraphQL (default 3085)'))
  .addOption(new Option('--worker-port <port>', 'Worker (default 8787)'))
  .addOption(new Option('--gitlab-port <port>', 'GitLab stand-in (default 8929)'))
  .addOption(new Option('--github-port <port>', 'GitHub stand-in (default 8930)'))
  .addOption(new Option('--gateway-port <port>', 'IPFS gateway (default 8090)'))
  .addOption(new Option('--page-port <port>', 'page (default 5173)'))
  .addOption(
    new Option('--block-interval-ms <ms>', 'slot length of the local chain (default 3000)'),
  )
  .addOption(new Option('--verbose', 'print every line of every process'))
  .showHelpAfterError()

async function main(): Promise<number> {
  program.parse()
  const { verbose, ...flags } = program.opts<Record<string, unknown>>()
  const config = resolveStackConfig(flags)
  const t0 = Date.now()
  const log = (line: string) => {
    // Child processes' own lines only with --verbose; the stack's steps always.
    if (!verbose && /^\[(chain|gateway|worker|job)\] /.test(line)) return
    console.log(line)
  }
  let stack: LocalStack | undefined
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: stopping every process (state is kept in ${config.dataDir})…`)
    await stack?.stop()
    process.exit(130)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))

  stack = await startStack(config, log)
  const { urls, keys, deployment, services, sponsoredService } = stack
  const pool = sponsoredService.pool
  console.log(
    [
      '',
      'zkrunner local stack is up:',
      `  page             ${urls.page}`,
      `  Worker           ${urls.worker}`,
      `  Mina GraphQL     ${urls.minaGraphql}  (archive ${urls.archive}, network id devnet)`,
      `  GitLab stand-in  ${urls.gitlab}`,
      `  GitHub stand-in  ${urls.github}`,
      `  IPFS gateway     ${urls.gateway}`,
      `  services         GitLab ${services.gitlab.service}`,
      `                   GitHub ${services.github.service}`,
      `                   sponsored ${sponsoredService.service}  (${pool.offered ? `pool of ${keys.sponsor.publicKey}: ${pool.grant.sponsorship.cap} credits cap, ${pool.grant.sponsorship.jobsPerUserPerDay} jobs per user per day` : `no pool offered: ${pool.why}`})`,
      `                   (registry ${deployment.registry}, token ${deployment.token})`,
      'dev keys (local only, never fund them elsewhere):',
      `  user    ${keys.user.publicKey}  ${keys.user.privateKey}`,
      `  page    ${keys.pageUser.publicKey}  ${keys.pageUser.privateKey}  (the page's dev wallet)`,
      `  runner  ${keys.runner.publicKey}  ${keys.runner.privateKey}`,
      `  fees    ${keys.deployer.publicKey}  ${keys.deployer.privateKey}`,
      `  sponsor ${keys.sponsor.publicKey}  ${keys.sponsor.privateKey}  (its channel in the sponsored service's ledger is the pool)`,
      '',
    ].join('\n'),
  )
  let runs: Awaited<ReturnType<LocalStack['runSampleJobs']>>
  try {
    // A job on each provider and one on the sponsor's pool, one settlement for all, then each
    // verified; lines say whose.
    runs = await stack.runSampleJobs(
      config.limit,
      PROVIDERS,
      (provider) => (line) => console.log(provider ? `[${TITLES[provider]}] ${line}` : line),
      { sponsored: true },
    )
  } catch (e) {
    await stack.stop()
    throw e
  }
  console.log('')
  for (const run of runs) {
    const broken = run.links.filter((l) => l.status !== 'ok')
    const title = TITLES[run.payer ? 'sponsored' : run.provider]
    const paid = run.payment
      ? `; the pool paid ${run.payment.poolPaid} credits, the user's channel ${run.payment.userChannelMoved ? 'MOVED' : 'did not move'}`
      : ''
    console.log(
      run.verified
        ? `${title} sample job ${run.jobId}: ${run.status}, every link verified${paid}`
        : `${title} sample job ${run.jobId}: ${run.status}; NOT verified: ${broken.map((l) => `${l.name} (${l.detail})`).join('; ') || (paid ? `payment${paid}` : 'no result')}`,
    )
  }
  const verified = runs.every((r) => r.verified)
  console.log(
    verified
      ? `both providers and the sponsored service: every link verified (${((Date.now() - t0) / 1000).toFixed(0)} s since start)`
      : 'NOT every link verified',
  )
  if (config.once) {
    await stack.stop()
    return verified ? 0 : 1
  }
  console.log(`\nserving the page at ${urls.page} — Ctrl-C to stop`)
  await new Promise(() => {})
  return 0
}

main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    const err = e as Error & { code?: string }
    console.error(
      `zkrunner: ${err instanceof StackConfigError ? `${err.code}: ` : ''}${err.message}`,
    )
    process.exit(1)
  },
)

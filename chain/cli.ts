import { Command, Option } from 'commander'
import { type ChainConfigInput, configFromEnv, DEFAULT_CONFIG, ENV_VARS } from './config.ts'
import { ChainError } from './errors.ts'
import { startLocalChain } from './index.ts'

// `npm run chain`: a local Mina node for the whole stack. Options come from flags, then
// ZKRUNNER_CHAIN_* environment variables, then defaults; they are validated once at start.

const MINA = 1_000_000_000n

function formatMina(nanomina: bigint): string {
  const whole = nanomina / MINA
  const frac = (nanomina % MINA).toString().padStart(9, '0').replace(/0+$/, '')
  return frac ? `${whole}.${frac}` : `${whole}`
}

const env = (key: keyof typeof ENV_VARS) => `env ${ENV_VARS[key]}`

const program = new Command()
  .name('npm run chain --')
  .description(
    'Local Mina node: an o1js LocalBlockchain behind the Mina daemon and archive GraphQL APIs.',
  )
  .addOption(new Option('--host <host>', `interface to listen on (${env('host')})`))
  .addOption(new Option('-p, --port <port>', `port, 0 for any free one (${env('port')})`))
  .addOption(
    new Option('--proofs', `verify proofs of received transactions (${env('proofsEnabled')})`),
  )
  .addOption(new Option('--no-proofs', 'accept transactions without verifying proofs (default)'))
  .addOption(
    new Option(
      '--block-interval <ms>',
      `slot duration and block period in ms (${env('blockIntervalMs')})`,
    ),
  )
  .addOption(
    new Option(
      '--manual-slots',
      `slots move only on demand, not with time (${env('autoAdvance')}=false)`,
    ),
  )
  .addOption(
    new Option(
      '--state-file <path>',
      `load state from and save it to this file (${env('stateFile')})`,
    ),
  )
  .addOption(new Option('--accounts <n>', `number of dev accounts (${env('accounts')})`))
  .addOption(
    new Option(
      '--account-balance <nanomina>',
      `balance of each dev account (${env('accountBalance')})`,
    ),
  )
  .addOption(new Option('--seed <seed>', `seed the dev accounts derive from (${env('seed')})`))
  .addOption(new Option('--min-fee <nanomina>', `smallest accepted fee (${env('minFee')})`))
  .addOption(new Option('--max-body-bytes <n>', `largest request body (${env('maxBodyBytes')})`))
  .addOption(new Option('--max-query-depth <n>', `deepest selection set (${env('maxQueryDepth')})`))
  .addOption(new Option('--max-aliases <n>', `most aliases in a query (${env('maxAliases')})`))
  .addOption(new Option('--max-tokens <n>', `most lexical tokens in a query (${env('maxTokens')})`))
  .addOption(
    new Option(
      '--slot-tx-end <slot>',
      `announce a hard fork: no transactions from this slot on (${env('slotTxEnd')})`,
    ),
  )
  .addOption(
    new Option(
      '--slot-chain-end <slot>',
      `announce a hard fork: no blocks from this slot on (${env('slotChainEnd')})`,
    ),
  )
  .addHelpText(
    'after',
    `\nDefaults: port ${DEFAULT_CONFIG.port}, proofs off, ${DEFAULT_CONFIG.blockIntervalMs} ms blocks, ${DEFAULT_CONFIG.accounts} accounts of ${formatMina(DEFAULT_CONFIG.accountBalance)} MINA, min fee ${formatMina(DEFAULT_CONFIG.minFee)} MINA.`,
  )

interface Flags {
  host?: string
  port?: string
  proofs?: boolean
  blockInterval?: string
  manualSlots?: boolean
  stateFile?: string
  accounts?: string
  accountBalance?: string
  seed?: string
  minFee?: string
  maxBodyBytes?: string
  maxQueryDepth?: string
  maxAliases?: string
  maxTokens?: string
  slotTxEnd?: string
  slotChainEnd?: string
}

function flagsToConfig(flags: Flags, argv: string[]): ChainConfigInput {
  const out: ChainConfigInput = {
    host: flags.host,
    port: flags.port,
    blockIntervalMs: flags.blockInterval,
    stateFile: flags.stateFile,
    accounts: flags.accounts,
    accountBalance: flags.accountBalance,
    seed: flags.seed,
    minFee: flags.minFee,
    maxBodyBytes: flags.maxBodyBytes,
    maxQueryDepth: flags.maxQueryDepth,
    maxAliases: flags.maxAliases,
    maxTokens: flags.maxTokens,
    slotTxEnd: flags.slotTxEnd,
    slotChainEnd: flags.slotChainEnd,
  }
  // commander sets `proofs` for both --proofs and --no-proofs; only an explicit flag counts.
  if (argv.includes('--proofs') || argv.includes('--no-proofs')) out.proofsEnabled = flags.proofs
  if (flags.manualSlots) out.autoAdvance = false
  return out
}

async function main(): Promise<void> {
  program.parse()
  const flags = program.opts<Flags>()
  const node = await startLocalChain({
    ...configFromEnv(),
    ...Object.fromEntries(
      Object.entries(flagsToConfig(flags, process.argv)).filter(([, v]) => v !== undefined),
    ),
    log: (line) => console.log(`[chain] ${line}`),
  })
  const { config } = node
  const lines = [
    'zkrunner local Mina node',
    `  Mina GraphQL (daemon):  ${node.url}`,
    `  Archive GraphQL:        ${node.archiveUrl}`,
    `  Account manager:        ${node.accountManagerUrl}`,
    `  network id: ${node.networkId} | proofs: ${config.proofsEnabled ? 'verified' : 'not verified'} | slot: ${node.chain.slotDurationMs} ms${config.autoAdvance ? '' : ' (manual)'} | min fee: ${formatMina(config.minFee)} MINA`,
    config.stateFile
      ? `  state file: ${config.stateFile}`
      : '  state: in memory (use --state-file to keep it)',
    '',
    `Dev accounts (${formatMina(config.accountBalance)} MINA each):`,
    ...node.accounts.map((a, i) => `  (${i}) ${a.publicKey}\n      private key: ${a.privateKey}`),
    '',
    'These keys are public knowledge: never use them on a real network.',
  ]
  console.log(lines.join('\n'))
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`[chain] ${signal}: saving and stopping`)
    void node.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[chain] error while stopping: ${(err as Error).message}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

main().catch((err: unknown) => {
  const message =
    err instanceof ChainError
      ? `${err.code}: ${err.message}`
      : String((err as Error).message ?? err)
  console.error(`chain: ${message}`)
  process.exit(1)
})

import { Command, CommanderError, Option } from 'commander'
import type { VerifyEndpoints } from '../verify/from-endpoints.ts'
import { ranText, ranVouched, truncatedLogsText } from '../verify/index.ts'
import {
  CliError,
  CliErrorCode,
  resolveEndpoints,
  resolveTarget,
  type VerifyFlags,
} from './verify-config.ts'
import { jsonReport, textReport, VerifyExit, verdictOf } from './verify-report.ts'

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
}

const REACH_TIMEOUT_MS = 10_000
const DEFAULT_TIMEOUT_S = 120

const VERIFY_HELP = `
Runs exactly the checks of the page's "Verify any result", from the gateways and the chain alone:
  bundle     the bundle is retrieved and every block checked against its CID
  manifest   the manifest parses from its canonical bytes and answers --job / --request
  files      every file matches its SHA-256 in the manifest
  signature  the runner's signature on the manifest
  runner     the signer is the runner the contract froze (descriptor and runnerKeyHash)
  service    the manifest names this service, and the service is genuine and frozen
  source     the source commitment matches the contract
  settled    the manifest is a leaf of the user's settled results root on chain
Without --job or --request the manifest link is "not checked (no request given)": any job of the
service would otherwise pass.

Endpoints come from --config (the page's config.json: minaGraphqlUrl, archiveUrl, gateways,
creditTokenId, genuineCode; other keys of that file are allowed) and/or the flags, which win.

Exit status: 0 every link holds; 1 a link is broken; 2 bad usage, a bad config or an endpoint
that did not answer (nothing verified); 3 nothing broken but some link not decided (for example
not settled yet, or no request given).

Example:
  npx zkrunner verify bafybei… --service B62q… --job 0123…cdef --config static-site/public/config.json
`

/** Fails with ENDPOINT_UNREACHABLE when nothing answers at `url` (any HTTP answer will do). */
async function reach(url: string, what: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(REACH_TIMEOUT_MS) })
    await res.body?.cancel()
    return true
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : ''
    throw new CliError(
      CliErrorCode.ENDPOINT_UNREACHABLE,
      `cannot reach ${what} ${url}${cause || (e instanceof Error ? `: ${e.message}` : '')}`,
    )
  }
}

/**
 * The endpoints that answer: the Mina node and archive must, and at least one gateway (the ones
 * that do not are dropped with a warning, so retrieval does not wait on them).
 */
async function reachable(endpoints: VerifyEndpoints, io: CliIo): Promise<VerifyEndpoints> {
  await Promise.all([
    reach(endpoints.minaGraphqlUrl, 'the Mina node'),
    reach(endpoints.archiveUrl, 'the archive'),
  ])
  const answered = await Promise.all(
    endpoints.gateways.map((g) =>
      reach(g, 'gateway').catch((e: unknown) => {
        io.stderr(`warning: ${(e as Error).message}\n`)
        return false
      }),
    ),
  )
  const gateways = endpoints.gateways.filter((_, i) => answered[i])
  if (gateways.length === 0)
    throw new CliError(
      CliErrorCode.ENDPOINT_UNREACHABLE,
      `no IPFS gateway answered (tried ${endpoints.gateways.join(', ')})`,
    )
  return { ...endpoints, gateways }
}

async function verifyCommand(
  bundleCid: string,
  flags: VerifyFlags & { json?: boolean; timeout?: string },
  io: CliIo,
): Promise<number> {
  const target = await resolveTarget(bundleCid, flags)
  const endpoints = await reachable(await resolveEndpoints(flags), io)
  const seconds = Number(flags.timeout ?? DEFAULT_TIMEOUT_S)
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600)
    throw new CliError(CliErrorCode.BAD_INPUT, '--timeout: whole seconds from 1 to 3600')
  // Loaded here, not at start: it pulls in o1js (seconds), which `--help` and bad usage never need.
  const { verifyFromEndpoints } = await import('../verify/from-endpoints.ts')
  const { links, outputs, manifest } = await verifyFromEndpoints(endpoints, target, () => {}, {
    signal: AbortSignal.timeout(seconds * 1000),
  })
  // How the job ran is the manifest's word: reported only when the manifest and its signature hold.
  const vouched = manifest && ranVouched(links) ? manifest : null
  io.stdout(
    flags.json
      ? jsonReport(
          {
            bundleCid: target.bundleCid,
            service: target.service,
            ...(target.jobId ? { jobId: target.jobId } : {}),
            ...(target.request ? { requestId: target.request.requestId } : {}),
          },
          links,
          outputs,
          vouched?.ran ?? null,
          vouched?.truncatedLogs ?? null,
        )
      : textReport(
          links,
          outputs,
          vouched ? ranText(vouched) : null,
          vouched ? truncatedLogsText(vouched) : null,
        ),
  )
  return verdictOf(links).exit
}

/** Runs `zkrunner <args>` and returns its exit status; never throws. */
export async function main(args: readonly string[], io: CliIo): Promise<number> {
  let status: number = VerifyExit.USAGE
  let json = false
  const program = new Command()
    .name('zkrunner')
    .description('zkrunner from the command line: check a result without the page.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError()
  program
    .command('verify')
    .description(
      'Verify a result bundle as the page does, print every link (✓ holds, ✗ broken, – not decided).',
    )
    .argument('<bundleCid>', 'CID of the result bundle (raw or dag-pb, sha2-256)')
    .requiredOption('--service <address>', 'the service contract (a Mina public key, B62…)')
    .option('--job <id>', 'the job id the bundle must answer (32 hex digits)')
    .option(
      '--request <file>',
      'the request you sent (JSON: requestId, service, user, parameters): checks user and parameters too',
    )
    .option('--config <path>', "the page's config.json (endpoints and the genuine contract code)")
    .option('--graphql <url>', 'Mina daemon GraphQL endpoint (config minaGraphqlUrl)')
    .option('--archive <url>', 'archive node GraphQL endpoint (config archiveUrl)')
    .addOption(
      new Option('--gateway <url...>', 'trustless IPFS gateways, tried in order (config gateways)'),
    )
    .option('--credit-token-id <id>', 'base58 token id of the credit token (config creditTokenId)')
    .option(
      '--genuine-code <json>',
      'the genuine contracts: {"serviceVkHash","ledgerVkHash","ledgerVaultVkHash","txnVersion"} (config genuineCode)',
    )
    .option(
      '--registry <address>',
      "the service registry, where a private service's reveal is listed (config registryAddress)",
    )
    .option('--timeout <seconds>', `give up reading after this long (default ${DEFAULT_TIMEOUT_S})`)
    .option('--json', 'print a machine-readable report (the verdict and every link) on stdout')
    .addHelpText('after', VERIFY_HELP)
    .action(async (bundleCid: string, flags: VerifyFlags & { json?: boolean }) => {
      json = flags.json === true
      status = await verifyCommand(bundleCid, flags, io)
    })
  try {
    await program.parseAsync([...args], { from: 'user' })
    return status
  } catch (e) {
    if (e instanceof CommanderError)
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help'
        ? 0
        : e.exitCode === 0
          ? 0
          : VerifyExit.USAGE
    const error =
      e instanceof CliError
        ? { code: e.code, message: e.message }
        : { code: 'FAILED', message: e instanceof Error ? e.message : String(e) }
    io.stderr(`zkrunner: ${error.message}\n`)
    if (json) io.stdout(`${JSON.stringify({ error, exitCode: VerifyExit.USAGE }, null, 2)}\n`)
    return VerifyExit.USAGE
  }
}

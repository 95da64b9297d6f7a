import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { GenuineCodeSchema, SourceOpeningSchema } from '../protocol/index.ts'
import { AgentError, AgentErrorCode } from './errors.ts'

/** An amount of credits: a decimal below 2^64 (a JSON number or a string), as a bigint. */
const CreditsSchema = z
  .union([z.string().regex(/^\d{1,20}$/, 'must be a whole number of credits'), z.int().min(0)])
  .transform((v) => BigInt(v))
  .refine((v) => v < 2n ** 64n, 'must be below 2^64')

const listen = z.string().regex(/^(|[^:\s]+:\d{1,5})$/, 'must be host:port or empty to disable')

/** The agent's resolved configuration: defaults, then file, then environment, then flags. */
export const AgentConfigSchema = z.strictObject({
  /** Holds the spool, the IPFS blockstore and the runner key. */
  dataDir: z.string().min(1),
  /** Base58 Mina private key (`EK…`) of the runner oracle; else read from `<dataDir>/runner-key.json`. */
  runnerKey: z.string().optional(),
  /**
   * User (name or uid) jobs run as, so they cannot read the runner key; needs an agent running as
   * root. Unset: jobs run as the agent's own user, and the agent says so.
   */
  jobUser: z.string().optional(),
  /** Where GitLab Runner puts builds (custom executor): never the data dir or a parent of the key. */
  buildsDir: z.string().min(1),
  /** Base URL of the zkrunner Worker the agent reports results to. */
  workerUrl: z.url(),
  /** Mina daemon GraphQL endpoint used by `settle` (the local chain node of `npm run chain` by default). */
  minaGraphqlUrl: z.url(),
  /** Mina archive GraphQL endpoint: `settle` rebuilds the service's channels from its events. */
  archiveUrl: z.url(),
  /** Network id the transactions are signed for (`devnet`, `mainnet`, `testnet`). */
  networkId: z.string().min(1),
  /** Base58 address of the credit token the services are paid in (a constant of their circuits). */
  creditToken: z.string().optional(),
  /** Base58 Mina private key paying settlement fees; the runner oracle key when unset. */
  feePayerKey: z.string().optional(),
  /**
   * Prove settlement and heartbeat transactions (true). False only against a node that does not
   * verify proofs, such as the local chain without `--proofs`: the local stack sets it so.
   */
  prove: z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]),
  /** Fee of a settlement transaction, in nanomina. */
  txFee: z.coerce.number().int().min(0),
  /** Where compiled circuit keys are cached; `<dataDir>/o1js-cache` when unset. */
  o1jsCacheDir: z.string().optional(),
  /** Sampling interval. */
  intervalMs: z.coerce.number().int().min(10).max(60_000),
  /** `auto`: perf when it works, procfs/cgroup always; `off`: procfs/cgroup only. */
  perf: z.enum(['auto', 'off']),
  /** Put each job in its own cgroup when the host allows it. */
  cgroup: z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]),
  /** Where `run` serves Prometheus metrics while a job runs (`''` disables). */
  metricsListen: listen,
  /** Where `gateway` serves the trustless gateway. */
  gatewayListen: listen,
  /** Opt-in: start libp2p and announce pinned bundles to the public IPFS network. */
  announce: z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]),
  /** Attempts per report before leaving it in the spool for `resume`. */
  reportAttempts: z.coerce.number().int().min(1).max(100),
  /**
   * Bytes of a job's stdout, and as many of its stderr, kept in its bundle: the rest is dropped
   * (still mirrored to the CI log) and the manifest says how much. A job cannot fill the runner's
   * disk, nor its IPFS store, nor every verifier's download, with output.
   */
  maxLogBytes: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /**
   * Bytes of artifacts copied into one job's bundle, all files together: a file that would pass
   * it is left out (`too-large` in the manifest). A job's sparse file of a terabyte costs it
   * nothing, but its copy in the spool is written out in full.
   */
  maxArtifactBytes: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /**
   * The openings (salt, providerUrl, project) of the private services this runner serves: the
   * agent checks a private commitment against the checkout with them. JSON in the environment.
   */
  privateSources: z.preprocess(
    (v) => (typeof v === 'string' ? jsonOrText(v) : v),
    z.array(SourceOpeningSchema.omit({ commit: true })).max(256),
  ),
  /**
   * Unix socket of the signer (`zkrunner-agent signer`): `run` asks it to run the job instead of
   * running and signing it itself, for a job whose own user calls the agent.
   */
  signerSocket: z.string().startsWith('/').optional(),
  /**
   * The signer's provider (`github` or `gitlab`): it asks it, before it runs a job, whether that
   * job is running on this runner now. Needed by `signer`, unused elsewhere.
   */
  provider: z.enum(['github', 'gitlab']).optional(),
  /** The provider's API base: `https://api.github.com` (or GHES `…/api/v3`), or GitLab's base URL. */
  providerApiUrl: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * A read-only provider token of the signer's (GitHub: Actions read on the service repositories;
   * GitLab: `read_api`). Held by the signer (root), never passed to a job.
   */
  providerToken: z.string().min(1).max(1024).optional(),
  /** This runner as the provider names it: GitHub's runner name, GitLab's runner id. */
  runnerName: z.string().min(1).max(256).optional(),
  /**
   * GitHub only: this runner's numeric id (`runner_id` in the jobs API; the runner's `.runner`
   * file has it as `agentId`). Runner names are unique only within a repository or organisation;
   * when set, a job must be on this id as well as this name.
   */
  runnerId: z
    .string()
    .regex(/^\d{1,20}$/)
    .optional(),
  /**
   * The projects this signer's runner serves, comma-separated: GitHub `owner/repo`, GitLab
   * project ids. A job of any other project is refused, whatever runner name it ran under.
   */
  servedProjects: z.string().min(1).max(4096).optional(),
  /**
   * What one outer job may spend on driver calls (`zkrunner-agent call`), in credits: the sum of
   * the prices of the vouchers signed for it. Absent: this runner makes no calls.
   */
  callBudgetPerJob: CreditsSchema.optional(),
  /**
   * The most this runner ever owes one driver service, in credits: no voucher to it is signed
   * for a cumulative amount above this (what its deposit there may be drawn down to).
   */
  callBudgetPerService: CreditsSchema.optional(),
  /**
   * Trustless gateways a driver's bundle is read from by `call` (comma-separated or a JSON list),
   * with verified retrieval: every block is hashed against its CID.
   */
  gateways: z
    .preprocess(
      (v) =>
        typeof v === 'string'
          ? ((j) =>
              Array.isArray(j)
                ? j
                : v
                    .split(',')
                    .map((g) => g.trim())
                    .filter(Boolean))(jsonOrText(v))
          : v,
      z
        .array(z.url({ protocol: /^https?$/ }))
        .min(1)
        .max(16),
    )
    .optional(),
  /** What a genuine service is compared with when `call` verifies a driver's result (JSON). */
  genuineCode: z
    .preprocess((v) => (typeof v === 'string' ? jsonOrText(v) : v), GenuineCodeSchema)
    .optional(),
})
/** The agent's resolved configuration. */
export type AgentConfig = z.infer<typeof AgentConfigSchema>

/** Built-in defaults: everything local, nothing public. */
export function defaultConfig(
  env: NodeJS.ProcessEnv = process.env,
): Omit<AgentConfig, 'buildsDir'> {
  const base = env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share')
  return {
    dataDir: join(base, 'zkrunner-agent'),
    workerUrl: 'http://127.0.0.1:8787',
    minaGraphqlUrl: 'http://127.0.0.1:3085/graphql',
    archiveUrl: 'http://127.0.0.1:3085/archive',
    networkId: 'devnet',
    prove: true,
    txFee: 100_000_000,
    intervalMs: 100,
    perf: 'auto',
    cgroup: true,
    metricsListen: '127.0.0.1:9477',
    gatewayListen: '127.0.0.1:8090',
    announce: false,
    reportAttempts: 5,
    maxLogBytes: 64 * 1024 * 1024,
    maxArtifactBytes: 4 * 1024 * 1024 * 1024,
    privateSources: [],
  }
}

/** Environment variable for each config key (`ZKRUNNER_DATA_DIR`, …). */
export const ENV_KEYS: Record<keyof AgentConfig, string> = {
  dataDir: 'ZKRUNNER_DATA_DIR',
  runnerKey: 'ZKRUNNER_RUNNER_KEY',
  jobUser: 'ZKRUNNER_JOB_USER',
  buildsDir: 'ZKRUNNER_BUILDS_DIR',
  workerUrl: 'ZKRUNNER_WORKER_URL',
  minaGraphqlUrl: 'ZKRUNNER_MINA_GRAPHQL_URL',
  archiveUrl: 'ZKRUNNER_ARCHIVE_URL',
  networkId: 'ZKRUNNER_MINA_NETWORK_ID',
  creditToken: 'ZKRUNNER_CREDIT_TOKEN',
  feePayerKey: 'ZKRUNNER_FEE_PAYER_KEY',
  prove: 'ZKRUNNER_PROVE',
  txFee: 'ZKRUNNER_TX_FEE',
  o1jsCacheDir: 'ZKRUNNER_O1JS_CACHE_DIR',
  intervalMs: 'ZKRUNNER_INTERVAL_MS',
  perf: 'ZKRUNNER_PERF',
  cgroup: 'ZKRUNNER_CGROUP',
  metricsListen: 'ZKRUNNER_METRICS_LISTEN',
  gatewayListen: 'ZKRUNNER_GATEWAY_LISTEN',
  announce: 'ZKRUNNER_ANNOUNCE',
  reportAttempts: 'ZKRUNNER_REPORT_ATTEMPTS',
  maxLogBytes: 'ZKRUNNER_MAX_LOG_BYTES',
  maxArtifactBytes: 'ZKRUNNER_MAX_ARTIFACT_BYTES',
  privateSources: 'ZKRUNNER_PRIVATE_SOURCES',
  signerSocket: 'ZKRUNNER_SIGNER_SOCKET',
  provider: 'ZKRUNNER_PROVIDER',
  providerApiUrl: 'ZKRUNNER_PROVIDER_API_URL',
  providerToken: 'ZKRUNNER_PROVIDER_TOKEN',
  runnerName: 'ZKRUNNER_RUNNER_NAME',
  runnerId: 'ZKRUNNER_RUNNER_ID',
  servedProjects: 'ZKRUNNER_SERVED_PROJECTS',
  callBudgetPerJob: 'ZKRUNNER_CALL_BUDGET_PER_JOB',
  callBudgetPerService: 'ZKRUNNER_CALL_BUDGET_PER_SERVICE',
  gateways: 'ZKRUNNER_GATEWAYS',
  genuineCode: 'ZKRUNNER_GENUINE_CODE',
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/**
 * Resolves the configuration once at start-up. The file is `flags.config`, else
 * `$ZKRUNNER_CONFIG`, else `/etc/zkrunner/agent.json` when it exists.
 */
export function loadConfig(
  flags: Partial<Record<keyof AgentConfig | 'config', unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): AgentConfig {
  const merged: Record<string, unknown> = { ...defaultConfig(env) }
  const explicit = (flags.config as string | undefined) ?? env.ZKRUNNER_CONFIG
  const file = explicit ?? '/etc/zkrunner/agent.json'
  let text: string | undefined
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if (explicit)
      throw new AgentError(
        AgentErrorCode.INVALID_CONFIG,
        `cannot read config file ${file}: ${(e as Error).message}`,
      )
  }
  if (text !== undefined) {
    try {
      Object.assign(merged, JSON.parse(text))
    } catch {
      throw new AgentError(AgentErrorCode.INVALID_CONFIG, `config file ${file} is not JSON`)
    }
  }
  for (const [key, name] of Object.entries(ENV_KEYS))
    if (env[name] !== undefined) merged[key] = env[name]
  for (const [key, value] of Object.entries(flags))
    if (key !== 'config' && value !== undefined) merged[key] = value
  // Beside the data dir, not in it: a job user must reach its build dir but not the key's dir.
  if (merged.buildsDir === undefined && typeof merged.dataDir === 'string')
    merged.buildsDir = `${merged.dataDir.replace(/\/+$/, '')}-builds`
  const parsed = AgentConfigSchema.safeParse(merged)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `config ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    )
  }
  return parsed.data
}

import type { JobIndex } from './job-index.ts'
import type { ServiceObject } from './service-object.ts'

/** The Worker's bindings, as wrangler.toml and the secrets declare them. */
export interface Env {
  SERVICES: DurableObjectNamespace<ServiceObject>
  JOBS: DurableObjectNamespace<JobIndex>
  /** Current HPKE private key (unpadded base64url, 32 bytes). Secret. */
  HPKE_PRIVATE_KEY?: string
  /** The previous HPKE private key, still accepted during a rotation grace period. Secret. */
  HPKE_PREVIOUS_PRIVATE_KEY?: string
  MINA_GRAPHQL_URL?: string
  /** The archive node API the Worker reads ledger actions from (default: MINA_GRAPHQL_URL's `/archive`). */
  MINA_ARCHIVE_URL?: string
  /** Base58 token id of the credit token the services are paid in (their vaults live under it). */
  CREDIT_TOKEN_ID?: string
  /**
   * JSON of protocol's GenuineCode: the compiled ServiceContract, ChannelLedger and LedgerVault key hashes and
   * the transaction version; a service whose accounts differ is refused.
   */
  GENUINE_SERVICE_CODE?: string
  /** Dev only: overrides every descriptor's providerUrl (the local GitLab stand-in). */
  GITLAB_URL?: string
  /** Dev only: overrides every GitHub descriptor's REST base (the local GitHub stand-in). */
  GITHUB_API_URL?: string
  /** Dev only: `loopback-http` lets a descriptor's providerUrl be http to a loopback host. */
  DEV_ALLOW_LOOPBACK_PROVIDER?: string
  HEARTBEAT_MAX_AGE_SLOTS?: string
  /** How long chain reads are reused, in ms (a stale deposit can only refuse, never over-accept). */
  CHAIN_CACHE_MS?: string
  /** Ledger actions one read hashes at most; a longer backlog is caught up over several reads. */
  LEDGER_ACTIONS_PER_READ?: string
  /** Seconds a service stays off after a provider-quota refusal before one job probes it again. */
  QUOTA_PROBE_SECONDS?: string
  /** The longest a job may run, in seconds (its result deadline; protocol's default 6 h). */
  MAX_JOB_SECONDS?: string
  /** Seconds the runner has after MAX_JOB_SECONDS to report a job's result (default 1 h). */
  RESULT_GRACE_SECONDS?: string
  /** Attempts of one trigger before handing over to the alarm. */
  GITLAB_MAX_ATTEMPTS?: string
  /** Per-request timeout towards GitLab, in ms. */
  GITLAB_TIMEOUT_MS?: string
}

/** Hono's environment type for the app. */
export type AppEnv = { Bindings: Env }

type WorkerEnv = Env

// Types `env` from 'cloudflare:workers' (used by the tests) as this Env.
declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}

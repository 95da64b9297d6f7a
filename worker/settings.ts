import { z } from 'zod'
import { DEFAULT_MAX_JOB_SECONDS, DEFAULT_RESULT_GRACE_SECONDS } from '../protocol/payable.ts'
import { DEFAULT_MAX_HEARTBEAT_AGE_SLOTS } from '../protocol/service-availability.ts'

// Apart from config.ts so tools outside workerd (the docs check) can read the names without the
// Worker's runtime types.

const intString = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback)

/** The Worker's settings (wrangler vars and secrets) as they are validated. */
export const ConfigSchema = z.object({
  HPKE_PRIVATE_KEY: z.string().min(1, 'HPKE_PRIVATE_KEY is not set'),
  HPKE_PREVIOUS_PRIVATE_KEY: z.string().optional(),
  MINA_GRAPHQL_URL: z.url().default('http://127.0.0.1:3085/graphql'),
  // The archive node API (a ledger's actions); unset: the GraphQL URL's `/archive` sibling, where
  // the local chain serves it.
  MINA_ARCHIVE_URL: z.url().optional(),
  GITLAB_URL: z.url().optional(),
  GITHUB_API_URL: z.url().optional(),
  CREDIT_TOKEN_ID: z
    .string()
    .regex(/^[1-9A-HJ-NP-Za-km-z]{40,60}$/, 'must be a base58 token id')
    .optional(),
  GENUINE_SERVICE_CODE: z.string().max(1000).optional(),
  // Only the exact word turns it on: a typo or "1" left in production config does not.
  DEV_ALLOW_LOOPBACK_PROVIDER: z.enum(['loopback-http']).optional(),
  // One default with the page's (protocol's constant).
  HEARTBEAT_MAX_AGE_SLOTS: intString(DEFAULT_MAX_HEARTBEAT_AGE_SLOTS, 0, 2 ** 31),
  CHAIN_CACHE_MS: intString(2000, 0, 600_000),
  // Ledger actions one read hashes at most (a backlog past it is caught up over several reads).
  LEDGER_ACTIONS_PER_READ: intString(20_000, 1, 20_000),
  // Seconds a service stays switched off after its provider refused a job for quota, before one
  // job may probe it again; doubled after each failed probe, up to 64 times this.
  QUOTA_PROBE_SECONDS: intString(600, 1, 86_400),
  // A job's result deadline (protocol's payable rule): admission + MAX_JOB_SECONDS +
  // RESULT_GRACE_SECONDS. A job with no runner report by then is not charged (no-result) and a
  // later report is refused. At least a minute each (a job and its report take time); at most
  // 35 days a job (GitHub's self-hosted limit) and a week to report.
  MAX_JOB_SECONDS: intString(DEFAULT_MAX_JOB_SECONDS, 60, 35 * 86_400),
  RESULT_GRACE_SECONDS: intString(DEFAULT_RESULT_GRACE_SECONDS, 60, 7 * 86_400),
  GITLAB_MAX_ATTEMPTS: intString(4, 1, 10),
  GITLAB_TIMEOUT_MS: intString(8000, 100, 60_000),
})

/** The names of every setting the Worker reads (vars and secrets): `.dev.vars.example` names no other. */
export const WORKER_SETTINGS: readonly string[] = Object.keys(ConfigSchema.shape)

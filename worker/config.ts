import {
  type GenuineCode,
  GenuineCodeSchema,
  type HpkeKeyPair,
  hpkeKeyPairOf,
  type ResultWindow,
} from '../protocol/index.ts'
import type { Env } from './env.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import { ConfigSchema } from './settings.ts'

/** The Worker's resolved configuration: validated once per isolate. */
export interface Config {
  /** The key new envelopes are sealed to. */
  currentKey: HpkeKeyPair
  /** Every key an envelope may name: current first, then the previous one during rotation. */
  keys: HpkeKeyPair[]
  minaGraphqlUrl: string
  /** The archive node API (every ledger action, checked against the node's action state). */
  minaArchiveUrl: string
  /** Overrides a descriptor's providerUrl (the local stand-in); unset in production. */
  gitlabUrl: string | undefined
  /** Overrides every GitHub descriptor's REST base (the local stand-in); unset in production. */
  githubApiUrl: string | undefined
  /** Whether a descriptor's providerUrl may be plain http to a loopback host (the local stack only). */
  allowLoopbackProvider: boolean
  heartbeatMaxAgeSlots: bigint
  /**
   * What a genuine service is compared with, or undefined when not configured: then every read of
   * a service fails closed (not_configured), since no service can be shown to be genuine.
   */
  genuine: { creditTokenId: string; code: GenuineCode } | undefined
  chainCacheMs: number
  /** Ledger actions one read hashes at most (bounded CPU per request; a backlog takes several). */
  ledgerActionsPerRead: number
  /** How long a provider-quota refusal switches a service off before one job probes it, in ms. */
  quotaProbeMs: number
  /** A job's run plus the grace for its report: past both, with no result, it is not charged. */
  resultWindow: ResultWindow
  gitlabMaxAttempts: number
  gitlabTimeoutMs: number
}

const resolved = new WeakMap<object, Config | ApiError>()

function resolve(env: Env): Config | ApiError {
  const parsed = ConfigSchema.safeParse(env)
  const notConfigured = (why: string) =>
    // Names the missing setting, never its value.
    new ApiError(503, ApiErrorCode.NOT_CONFIGURED, `the Worker is not configured: ${why}`)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    return notConfigured(`${issue?.path.join('.') ?? 'config'} ${issue?.message ?? 'invalid'}`)
  }
  const c = parsed.data
  const current = hpkeKeyPairOf(c.HPKE_PRIVATE_KEY)
  if (!current.ok) return notConfigured('HPKE_PRIVATE_KEY is not an X25519 private key')
  const keys: HpkeKeyPair[] = [current.value]
  if (c.HPKE_PREVIOUS_PRIVATE_KEY) {
    const previous = hpkeKeyPairOf(c.HPKE_PREVIOUS_PRIVATE_KEY)
    if (!previous.ok) return notConfigured('HPKE_PREVIOUS_PRIVATE_KEY is not an X25519 private key')
    keys.push(previous.value)
  }
  let genuine: Config['genuine']
  if (c.GENUINE_SERVICE_CODE !== undefined || c.CREDIT_TOKEN_ID !== undefined) {
    let json: unknown
    try {
      json = JSON.parse(c.GENUINE_SERVICE_CODE ?? '')
    } catch {
      return notConfigured('GENUINE_SERVICE_CODE is not JSON')
    }
    const code = GenuineCodeSchema.safeParse(json)
    if (!code.success) return notConfigured('GENUINE_SERVICE_CODE is not a GenuineCode')
    if (!c.CREDIT_TOKEN_ID) return notConfigured('CREDIT_TOKEN_ID is not set')
    genuine = { creditTokenId: c.CREDIT_TOKEN_ID, code: code.data }
  }
  return {
    currentKey: current.value,
    keys,
    minaGraphqlUrl: c.MINA_GRAPHQL_URL,
    minaArchiveUrl: c.MINA_ARCHIVE_URL ?? c.MINA_GRAPHQL_URL.replace(/\/graphql\/?$/, '/archive'),
    gitlabUrl: c.GITLAB_URL,
    githubApiUrl: c.GITHUB_API_URL,
    allowLoopbackProvider: c.DEV_ALLOW_LOOPBACK_PROVIDER === 'loopback-http',
    heartbeatMaxAgeSlots: BigInt(c.HEARTBEAT_MAX_AGE_SLOTS),
    genuine,
    chainCacheMs: c.CHAIN_CACHE_MS,
    ledgerActionsPerRead: c.LEDGER_ACTIONS_PER_READ,
    quotaProbeMs: c.QUOTA_PROBE_SECONDS * 1000,
    resultWindow: { maxJobSeconds: c.MAX_JOB_SECONDS, graceSeconds: c.RESULT_GRACE_SECONDS },
    gitlabMaxAttempts: c.GITLAB_MAX_ATTEMPTS,
    gitlabTimeoutMs: c.GITLAB_TIMEOUT_MS,
  }
}

/** The configuration of this env, or a 503 `not_configured` ApiError thrown. */
export function configOf(env: Env): Config {
  let config = resolved.get(env)
  if (config === undefined) {
    config = resolve(env)
    resolved.set(env, config)
  }
  if (config instanceof ApiError) throw config
  return config
}

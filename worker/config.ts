import { type HpkeKeyPair, hpkeKeyPairOf } from '../protocol/index.ts'
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
  /** Overrides a descriptor's providerUrl (the local stand-in); unset in production. */
  gitlabUrl: string | undefined
  /** Overrides every GitHub descriptor's REST base (the local stand-in); unset in production. */
  githubApiUrl: string | undefined
  /** Whether a descriptor's providerUrl may be plain http to a loopback host (the local stack only). */
  allowLoopbackProvider: boolean
  heartbeatMaxAgeSlots: bigint
  chainCacheMs: number
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
  return {
    currentKey: current.value,
    keys,
    minaGraphqlUrl: c.MINA_GRAPHQL_URL,
    gitlabUrl: c.GITLAB_URL,
    githubApiUrl: c.GITHUB_API_URL,
    allowLoopbackProvider: c.DEV_ALLOW_LOOPBACK_PROVIDER === 'loopback-http',
    heartbeatMaxAgeSlots: BigInt(c.HEARTBEAT_MAX_AGE_SLOTS),
    chainCacheMs: c.CHAIN_CACHE_MS,
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

import { z } from 'zod'
import { ChainError } from './errors.ts'

/** The resolved, validated configuration of a local chain node. */
export interface ChainConfig {
  /** Interface to listen on. */
  host: string
  /** TCP port; 0 picks a free one. */
  port: number
  /** Verify proofs of received transactions (clients must then prove). */
  proofsEnabled: boolean
  /** Slot duration and period of block production, in milliseconds. */
  blockIntervalMs: number
  /** Advance slots with wall-clock time; when false, slots move only on demand. */
  autoAdvance: boolean
  /** File the chain state is loaded from at start and saved to on change. */
  stateFile: string | undefined
  /** Number of pre-funded dev accounts. */
  accounts: number
  /** Balance of each dev account, in nanomina. */
  accountBalance: bigint
  /** Seed the dev accounts are derived from. */
  seed: string
  /** Smallest accepted fee, in nanomina (Mina's mempool minimum is 0.001 MINA). */
  minFee: bigint
  /** Largest accepted HTTP request body, in bytes. */
  maxBodyBytes: number
  /** Deepest accepted selection set. */
  maxQueryDepth: number
  /** Most aliases accepted in one document. */
  maxAliases: number
  /** Most lexical tokens accepted in one document. */
  maxTokens: number
  /**
   * A hard fork's stop slots, as a stop-slot release announces them (`runtimeConfig.daemon`):
   * from `slotTxEnd` on, the node takes no more transactions. Unset: no upgrade planned.
   */
  slotTxEnd: number | undefined
  /** From this slot on the network produces no blocks (the node stops taking transactions too). */
  slotChainEnd: number | undefined
}

/** Defaults: Mina's daemon GraphQL port, proofs off, a 3 s block interval. */
export const DEFAULT_CONFIG: ChainConfig = {
  host: '127.0.0.1',
  port: 3085,
  proofsEnabled: false,
  blockIntervalMs: 3000,
  autoAdvance: true,
  stateFile: undefined,
  accounts: 10,
  accountBalance: 1_000_000_000_000n,
  seed: 'zkrunner-dev',
  minFee: 1_000_000n,
  maxBodyBytes: 4 * 1024 * 1024,
  maxQueryDepth: 16,
  maxAliases: 30,
  maxTokens: 100_000,
  slotTxEnd: undefined,
  slotChainEnd: undefined,
}

/** Environment variables read by `configFromEnv`, one per option. */
export const ENV_VARS: Record<keyof ChainConfig, string> = {
  host: 'ZKRUNNER_CHAIN_HOST',
  port: 'ZKRUNNER_CHAIN_PORT',
  proofsEnabled: 'ZKRUNNER_CHAIN_PROOFS',
  blockIntervalMs: 'ZKRUNNER_CHAIN_BLOCK_INTERVAL_MS',
  autoAdvance: 'ZKRUNNER_CHAIN_AUTO_ADVANCE',
  stateFile: 'ZKRUNNER_CHAIN_STATE_FILE',
  accounts: 'ZKRUNNER_CHAIN_ACCOUNTS',
  accountBalance: 'ZKRUNNER_CHAIN_ACCOUNT_BALANCE',
  seed: 'ZKRUNNER_CHAIN_SEED',
  minFee: 'ZKRUNNER_CHAIN_MIN_FEE',
  maxBodyBytes: 'ZKRUNNER_CHAIN_MAX_BODY_BYTES',
  maxQueryDepth: 'ZKRUNNER_CHAIN_MAX_QUERY_DEPTH',
  maxAliases: 'ZKRUNNER_CHAIN_MAX_ALIASES',
  maxTokens: 'ZKRUNNER_CHAIN_MAX_TOKENS',
  slotTxEnd: 'ZKRUNNER_CHAIN_SLOT_TX_END',
  slotChainEnd: 'ZKRUNNER_CHAIN_SLOT_CHAIN_END',
}

const bool = z.union([
  z.boolean(),
  z.enum(['true', '1', 'yes', 'on']).transform(() => true),
  z.enum(['false', '0', 'no', 'off']).transform(() => false),
])
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max)
const nanomina = z
  .union([z.bigint(), z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()])
  .transform((v) => BigInt(v))
  .refine((v) => v < 2n ** 64n, 'must fit in 64 bits')

const schema = z.object({
  host: z.string().min(1),
  port: int(0, 65535),
  proofsEnabled: bool,
  blockIntervalMs: int(50, 24 * 3600 * 1000),
  autoAdvance: bool,
  stateFile: z.string().min(1).optional(),
  accounts: int(1, 1000),
  accountBalance: nanomina,
  seed: z.string().min(1).max(200),
  minFee: nanomina,
  maxBodyBytes: int(1024, 256 * 1024 * 1024),
  maxQueryDepth: int(2, 100),
  maxAliases: int(0, 10_000),
  maxTokens: int(100, 10_000_000),
  slotTxEnd: int(1, 0xffff_ffff).optional(),
  slotChainEnd: int(1, 0xffff_ffff).optional(),
})

/** A partial configuration as given by flags, environment or a caller; values may be strings. */
export type ChainConfigInput = { [K in keyof ChainConfig]?: ChainConfig[K] | string }

/** Reads the options that are set in the environment. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ChainConfigInput {
  const out: Record<string, string> = {}
  for (const [key, name] of Object.entries(ENV_VARS)) {
    const value = env[name]
    if (value !== undefined && value !== '') out[key] = value
  }
  return out as ChainConfigInput
}

/** Merges layers (later wins) over the defaults and validates the result once. */
export function resolveConfig(...layers: ChainConfigInput[]): ChainConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG }
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value
  }
  const parsed = schema.safeParse(merged)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const key = String(issue?.path[0] ?? '?')
    const where = ENV_VARS[key as keyof ChainConfig]
      ? ` (flag or ${ENV_VARS[key as keyof ChainConfig]})`
      : ''
    throw new ChainError('CONFIG_INVALID', `invalid option ${key}${where}: ${issue?.message}`)
  }
  return parsed.data as ChainConfig
}

import { join } from 'node:path'
import { z } from 'zod'

const port = z.coerce.number().int().min(0).max(65535)

/** The local stack's settings: defaults, then `ZKRUNNER_STACK_*` environment, then flags; validated once. */
export const StackConfigSchema = z.strictObject({
  /** Chain state, IPFS blockstore, Worker storage and dev keys live here and survive restarts. */
  dataDir: z.string().min(1),
  /** Run one sample job, print the verification, and exit 0 only if every link holds. */
  once: z.boolean(),
  chainPort: port,
  workerPort: port,
  gitlabPort: port,
  githubPort: port,
  gatewayPort: port,
  pagePort: port,
  /** The sample job's LIMIT parameter. */
  limit: z.coerce.number().int().min(1).max(200_000_000),
  /** Chain slot length: also how fast heartbeats age. */
  blockIntervalMs: z.coerce.number().int().min(200).max(60_000),
})
/** The local stack's resolved settings. */
export type StackConfig = z.infer<typeof StackConfigSchema>

/** Built-in defaults: the well-known local ports of each part. */
export const DEFAULTS: StackConfig = {
  dataDir: join(process.cwd(), '.zkrunner', 'stack'),
  once: false,
  chainPort: 3085,
  workerPort: 8787,
  gitlabPort: 8929,
  githubPort: 8930,
  gatewayPort: 8090,
  pagePort: 5173,
  limit: 20_000_000,
  blockIntervalMs: 3000,
}

const ENV: Record<keyof StackConfig, string> = {
  dataDir: 'ZKRUNNER_STACK_DATA_DIR',
  once: 'ZKRUNNER_STACK_ONCE',
  chainPort: 'ZKRUNNER_STACK_CHAIN_PORT',
  workerPort: 'ZKRUNNER_STACK_WORKER_PORT',
  gitlabPort: 'ZKRUNNER_STACK_GITLAB_PORT',
  githubPort: 'ZKRUNNER_STACK_GITHUB_PORT',
  gatewayPort: 'ZKRUNNER_STACK_GATEWAY_PORT',
  pagePort: 'ZKRUNNER_STACK_PAGE_PORT',
  limit: 'ZKRUNNER_STACK_LIMIT',
  blockIntervalMs: 'ZKRUNNER_STACK_BLOCK_INTERVAL_MS',
}

/** The config could not be resolved: names the setting. */
export class StackConfigError extends Error {
  override readonly name = 'StackConfigError'
  readonly code = 'INVALID_CONFIG'
}

/** Resolves defaults → environment → flags into a validated config. */
export function resolveStackConfig(
  flags: Partial<Record<keyof StackConfig, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
): StackConfig {
  const merged: Record<string, unknown> = { ...DEFAULTS }
  for (const [key, name] of Object.entries(ENV)) {
    const value = env[name]
    if (value !== undefined)
      merged[key] = key === 'once' ? value === 'true' || value === '1' : value
  }
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) merged[key] = value
  const parsed = StackConfigSchema.safeParse(merged)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new StackConfigError(
      `${issue?.path.join('.') ?? 'config'}: ${issue?.message ?? 'invalid'}`,
    )
  }
  return parsed.data
}

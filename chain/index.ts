import { type ChainConfig, type ChainConfigInput, resolveConfig } from './config.ts'
import type { DevAccount } from './dev-accounts.ts'
import { type Block, LocalChain, type Logger, NETWORK_ID } from './local-chain.ts'
import { serve } from './node-server.ts'
import { chainApp, PATHS } from './server.ts'

export { type ChainConfig, configFromEnv, DEFAULT_CONFIG, resolveConfig } from './config.ts'
export type { DevAccount } from './dev-accounts.ts'
export { ChainError, type ChainErrorCode } from './errors.ts'
export { LocalChain } from './local-chain.ts'

/** Options of `startLocalChain`: any config option, plus a log sink and an abort signal. */
export type StartOptions = ChainConfigInput & {
  /** Where to send log lines; silent by default. */
  log?: Logger
  /** Aborting closes the node. */
  signal?: AbortSignal
}

/** A running local chain node. */
export interface LocalChainNode {
  /** Daemon GraphQL endpoint, for `Mina.Network({ mina })`. */
  url: string
  /** Archive GraphQL endpoint, for `Mina.Network({ archive })`. */
  archiveUrl: string
  /** Lightnet-compatible account manager, for `Mina.Network({ lightnetAccountManager })`. */
  accountManagerUrl: string
  /** Network id to give `Mina.Network` (signatures use it). */
  networkId: 'devnet'
  /** The pre-funded dev accounts. */
  accounts: DevAccount[]
  /** The resolved configuration. */
  config: ChainConfig
  /** The chain itself, for tests that look inside. */
  chain: LocalChain
  /** Moves the chain `n` slots ahead and produces a block there. */
  advanceSlots(n: number): Promise<Block>
  /** Stops serving and block production, and saves the state file if any. */
  close(): Promise<void>
}

/** Starts a local chain node (library form of `npm run chain`). */
export async function startLocalChain(options: StartOptions = {}): Promise<LocalChainNode> {
  const { log, signal, ...rest } = options
  const config = resolveConfig(rest)
  const chain = await LocalChain.create(config, log)
  let server: Awaited<ReturnType<typeof serve>>
  try {
    server = await serve(chainApp(chain, config).fetch, config.host, config.port)
  } catch (err) {
    await chain.close()
    throw err
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const base = `http://${host}:${server.port}`
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      await server.close()
      await chain.close()
    })()
    return closing
  }
  signal?.addEventListener('abort', () => void close(), { once: true })
  return {
    url: `${base}${PATHS.daemon}`,
    archiveUrl: `${base}${PATHS.archive}`,
    accountManagerUrl: `${base}${PATHS.accountManager}`,
    networkId: NETWORK_ID,
    accounts: chain.accounts,
    config,
    chain,
    advanceSlots: (n) => chain.advanceSlots(n),
    close,
  }
}

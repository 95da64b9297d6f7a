import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { accountManagerApp } from './account-manager.ts'
import type { ChainConfig } from './config.ts'
import { ChainError } from './errors.ts'
import { archiveRoot } from './graphql/archive-resolvers.ts'
import { archiveSdl } from './graphql/archive-schema.ts'
import { daemonRoot } from './graphql/daemon-resolvers.ts'
import { daemonSdl } from './graphql/daemon-schema.ts'
import { buildCheckedSchema, createExecutor, type Executor } from './graphql/executor.ts'
import type { LocalChain } from './local-chain.ts'

/** URL paths of the node's endpoints. */
export const PATHS = {
  daemon: '/graphql',
  archive: '/archive',
  accountManager: '/account-manager',
  local: '/local',
} as const

function graphqlError(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] }
}

/**
 * The node's HTTP app: the daemon GraphQL API, the archive GraphQL API, Lightnet's account
 * manager, and a few local-only controls. CORS is open, as the page calls it from its origin.
 */
export function chainApp(chain: LocalChain, config: ChainConfig): Hono {
  const limits = {
    maxDepth: config.maxQueryDepth,
    maxAliases: config.maxAliases,
    maxTokens: config.maxTokens,
  }
  const daemon = createExecutor(buildCheckedSchema(daemonSdl()), daemonRoot(chain), limits)
  const archive = createExecutor(buildCheckedSchema(archiveSdl()), archiveRoot(chain), limits)
  const app = new Hono()
  app.use('*', cors())
  const limit = bodyLimit({
    maxSize: config.maxBodyBytes,
    onError: (c) =>
      c.json(
        graphqlError(
          `request body is larger than ${config.maxBodyBytes} bytes`,
          'REQUEST_TOO_LARGE',
        ),
        413,
      ),
  })

  const serveGraphQL = (executor: Executor) => async (c: Context) => {
    let body: unknown
    try {
      body = JSON.parse(await c.req.text())
    } catch {
      return c.json(graphqlError('request body is not valid JSON', 'BAD_REQUEST'), 400)
    }
    const { status, body: out } = await executor(body)
    return c.json(out, status as 200)
  }

  for (const [path, executor] of [
    [PATHS.daemon, daemon],
    [PATHS.archive, archive],
  ] as const) {
    app.post(path, limit, serveGraphQL(executor))
    app.get(path, (c) =>
      c.json(
        graphqlError('send GraphQL requests with POST and a JSON body', 'METHOD_NOT_ALLOWED'),
        405,
      ),
    )
  }

  app.route(PATHS.accountManager, accountManagerApp(chain.accounts))

  app.post(`${PATHS.local}/advance-slots`, limit, async (c) => {
    let slots: unknown
    try {
      slots = ((await c.req.json()) as { slots?: unknown }).slots
    } catch {
      slots = undefined
    }
    if (typeof slots !== 'number')
      return c.json(
        { error: { code: 'BAD_REQUEST', message: 'body must be { "slots": <n> }' } },
        400,
      )
    try {
      const block = await chain.advanceSlots(slots)
      return c.json({ height: block.height, slot: block.slot })
    } catch (err) {
      const code = err instanceof ChainError ? err.code : 'INTERNAL'
      return c.json({ error: { code, message: (err as Error).message } }, 400)
    }
  })
  app.get(`${PATHS.local}/status`, (c) => {
    const tip = chain.tip()
    return c.json({
      height: tip.height,
      slot: tip.slot,
      slotDurationMs: chain.slotDurationMs,
      proofsEnabled: chain.proofsEnabled,
      networkId: 'devnet',
    })
  })
  app.get('/health', (c) => c.json({ ok: true }))

  app.notFound((c) =>
    c.json(
      { error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}` } },
      404,
    ),
  )
  app.onError((err, c) =>
    c.json({ error: { code: 'INTERNAL', message: err.message || 'internal error' } }, 500),
  )
  return app
}

import { createServer, type ViteDevServer } from 'vite'
import type { GenuineCode } from '../protocol/index.ts'

/** What the page's `config.json` holds (static-site/src/config.ts validates it). */
export interface PageConfig {
  workerUrl: string
  minaGraphqlUrl: string
  archiveUrl: string
  gateways: string[]
  networkId: string
  registryAddress: string
  tokenAddress: string
  creditTokenId: string
  genuineCode: GenuineCode
  devKey?: string
  maxHeartbeatAgeSlots?: number
  /** The page sends dummy proofs (a chain that verifies none): it compiles no contract. */
  dummyProofs?: boolean
}

const SITE_ROOT = new URL('../static-site/', import.meta.url).pathname

/**
 * Serves the page with Vite's dev server (COOP/COEP and the CSP from static-site/headers.ts) and
 * answers `/config.json` with the local stack's URLs and addresses instead of the placeholder.
 */
export async function startPageServer(
  port: number,
  config: PageConfig,
): Promise<{ url: string; close(): Promise<void> }> {
  const body = `${JSON.stringify(config, null, 2)}\n`
  const server: ViteDevServer = await createServer({
    configFile: `${SITE_ROOT}vite.config.ts`,
    root: SITE_ROOT,
    logLevel: 'warn',
    clearScreen: false,
    server: { port, strictPort: true, host: '127.0.0.1' },
    plugins: [
      {
        name: 'zkrunner-local-config',
        configureServer(s) {
          s.middlewares.use('/config.json', (_req, res) => {
            res.setHeader('Content-Type', 'application/json')
            res.setHeader('Cache-Control', 'no-store')
            res.end(body)
          })
        },
      },
    ],
  })
  await server.listen()
  const address = server.httpServer?.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  return { url: `http://127.0.0.1:${actualPort}/`, close: () => server.close() }
}

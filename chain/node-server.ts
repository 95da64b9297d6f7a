import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'

/** A fetch-style handler, as a Hono app's `fetch`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>

/** A running HTTP server. */
export interface RunningServer {
  server: Server
  port: number
  close(): Promise<void>
}

async function handle(handler: FetchHandler, req: IncomingMessage, res: ServerResponse) {
  try {
    // Route on the path only; the Host header is the client's to choose.
    const url = new URL(req.url ?? '/', 'http://localhost')
    const headers = new Headers()
    for (const [key, value] of Object.entries(req.headers))
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value)
    const method = req.method ?? 'GET'
    const init: RequestInit & { duplex?: 'half' } = { method, headers }
    if (method !== 'GET' && method !== 'HEAD') {
      init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>
      init.duplex = 'half'
    }
    const response = await handler(new Request(url, init))
    res.writeHead(response.status, Object.fromEntries(response.headers))
    if (response.body) {
      const reader = response.body.getReader()
      for (let r = await reader.read(); !r.done; r = await reader.read()) res.write(r.value)
    }
    res.end()
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { code: 'INTERNAL', message: String(err) } }))
  }
}

/** Serves a fetch-style handler with node:http; resolves once listening. */
export function serve(handler: FetchHandler, host: string, port: number): Promise<RunningServer> {
  const server = createServer((req, res) => void handle(handler, req, res))
  server.headersTimeout = 30_000
  server.requestTimeout = 5 * 60_000
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          }),
      })
    })
  })
}

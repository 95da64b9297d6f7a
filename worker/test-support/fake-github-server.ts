import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createFakeGithub } from './fake-github.ts'

/** Serves a fake GitHub on a loopback port. */
export async function serveFakeGithub(options: { token: string; repository: string }) {
  const fake = createFakeGithub(options)
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      ...(body.length > 0 ? { body } : {}),
    })
    const response = await fake.handle(request)
    res.writeHead(response.status, Object.fromEntries(response.headers))
    res.end(Buffer.from(await response.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

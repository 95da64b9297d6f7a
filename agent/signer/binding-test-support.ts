import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

// What the signer's job-binding tests share: a Worker answering GET /v1/jobs/:id and
// /v1/services/:a from maps the test fills, a GitLab trigger, and a check's outcome as text.

/** A Worker double for the signer's reads; `jobs` and `services` hold what it answers. */
export async function startBindingWorker(): Promise<{
  url: string
  jobs: Map<string, Record<string, unknown>>
  services: Map<string, Record<string, unknown>>
  close(): void
}> {
  const jobs = new Map<string, Record<string, unknown>>()
  const services = new Map<string, Record<string, unknown>>()
  const server = createServer((req, res) => {
    const json = (status: number, v: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v))
    const job = /^\/v1\/jobs\/([0-9a-f]{32})$/.exec(req.url ?? '')?.[1]
    if (job && jobs.has(job)) return json(200, jobs.get(job))
    const svc = /^\/v1\/services\/(.+)$/.exec(req.url ?? '')?.[1]
    if (svc && services.has(svc)) return json(200, services.get(svc))
    return json(404, { error: { code: 'not_found' } })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, jobs, services, close: () => server.close() }
}

/** Triggers a pipeline of project 7 on the GitLab stand-in for `jobId`; resolves with its id. */
export async function triggerPipeline(gitlabUrl: string, jobId: string): Promise<number> {
  const res = await fetch(`${gitlabUrl}/api/v4/projects/7/trigger/pipeline`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=glptt&ref=main&variables[ZKRUNNER_JOB_ID]=${jobId}`,
  })
  return ((await res.json()) as { id: number }).id
}

/** A check's outcome as text: 'ok', or the refusal's code and message. */
export const outcome = (p: Promise<void>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
  )

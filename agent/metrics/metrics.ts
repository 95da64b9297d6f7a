import { createServer, type Server } from 'node:http'
import { Counter, Gauge, Registry } from 'prom-client'
import type { LiveSample } from '../sampling/sampler.ts'

/** Prometheus gauges for one running job, served on `/metrics` while it runs. */
export class JobMetrics {
  readonly registry = new Registry()
  private readonly cpu: Gauge
  private readonly rss: Gauge
  private readonly procs: Gauge
  private readonly perf: Gauge
  private readonly running: Gauge
  private readonly conflicts: Counter

  constructor(readonly jobId: string) {
    const labelNames = ['job_id'] as const
    const registers = [this.registry]
    this.cpu = new Gauge({
      name: 'zkrunner_job_cpu_seconds',
      help: 'CPU time of the job process tree',
      labelNames,
      registers,
    })
    this.rss = new Gauge({
      name: 'zkrunner_job_rss_bytes',
      help: 'Resident memory of the job process tree',
      labelNames,
      registers,
    })
    this.procs = new Gauge({
      name: 'zkrunner_job_processes',
      help: 'Live processes in the job tree',
      labelNames,
      registers,
    })
    this.running = new Gauge({
      name: 'zkrunner_job_running',
      help: '1 while the job runs',
      labelNames,
      registers,
    })
    this.perf = new Gauge({
      name: 'zkrunner_job_perf_event_total',
      help: 'perf stat counter totals so far (task-clock in ms)',
      labelNames: ['job_id', 'event'],
      registers,
    })
    this.conflicts = new Counter({
      name: 'zkrunner_report_conflicts_total',
      help: 'Result reports the Worker refused because it holds a different result for the job (alert on any)',
      labelNames,
      registers,
    })
    this.conflicts.inc({ job_id: jobId }, 0)
    this.running.set({ job_id: jobId }, 1)
  }

  /** Counts a report the Worker answered 409: it holds a different result for this job. */
  reportConflict(): void {
    this.conflicts.inc({ job_id: this.jobId })
  }

  /** Records one live sample. */
  update(s: LiveSample): void {
    const l = { job_id: this.jobId }
    this.cpu.set(l, s.cpuMs / 1000)
    this.rss.set(l, s.rssBytes)
    this.procs.set(l, s.processes)
    for (const [event, v] of Object.entries(s.perf)) this.perf.set({ ...l, event }, v)
  }

  /** Marks the job finished. */
  finish(): void {
    this.running.set({ job_id: this.jobId }, 0)
  }
}

/**
 * Serves a registry on `GET /metrics`. Resolves to null when the port is taken (another job on
 * the same host already serves): metrics are best-effort and must never fail a job.
 */
export async function serveMetrics(registry: Registry, listen: string): Promise<Server | null> {
  const i = listen.lastIndexOf(':')
  const host = listen.slice(0, i)
  const port = Number(listen.slice(i + 1))
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType })
          res.end(text)
        },
        () => {
          res.writeHead(500).end()
        },
      )
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({ error: { code: 'NOT_FOUND', message: 'only /metrics is served here' } }),
    )
  })
  return new Promise((resolve) => {
    server.once('error', () => resolve(null))
    server.listen(port, host, () => resolve(server))
  })
}

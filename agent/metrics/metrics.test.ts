import { describe, expect, it } from 'vitest'
import { JobMetrics, serveMetrics } from './metrics.ts'

describe('job metrics', () => {
  it('serves live gauges on /metrics and tolerates a taken port', async () => {
    const m = new JobMetrics('ab'.repeat(16))
    m.update({ cpuMs: 1500, rssBytes: 1234, processes: 2, perf: { 'task-clock': 1499 } })
    const server = await serveMetrics(m.registry, '127.0.0.1:0')
    expect(server).not.toBeNull()
    const a = server!.address()
    const port = typeof a === 'object' && a ? a.port : 0
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(text).toContain(`zkrunner_job_cpu_seconds{job_id="${'ab'.repeat(16)}"} 1.5`)
    expect(text).toContain('zkrunner_job_perf_event_total{job_id=')
    expect(await serveMetrics(m.registry, `127.0.0.1:${port}`)).toBeNull()
    server!.close()
  })
})

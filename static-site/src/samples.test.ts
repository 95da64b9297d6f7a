import { describe, expect, it } from 'vitest'
import { samplesJsonl } from '../../verify/test-support/bundle-fixture.ts'
import { parseSamples } from './samples.ts'

describe('parseSamples', () => {
  it('turns cumulative CPU into utilisation and bytes into MiB', () => {
    const s = parseSamples(samplesJsonl(4))
    expect(s.t).toEqual([0.25, 0.5, 0.75, 1])
    expect(s.cpu[0]).toBeNull()
    expect(s.cpu[1]).toBeCloseTo(0.72)
    expect(s.memMiB[0]).toBeGreaterThan(15)
  })

  it('falls back to cgroup records and skips a truncated line', () => {
    const text =
      '{"kind":"header"}\n{"kind":"cgroup","t":1000,"cpuMs":0,"memoryBytes":1048576}\n' +
      '{"kind":"cgroup","t":2000,"cpuMs":500,"memoryBytes":2097152}\n{"kind":"cgr'
    const s = parseSamples(text)
    expect(s.source).toBe('cgroup')
    expect(s.cpu).toEqual([null, 0.5])
    expect(s.memMiB).toEqual([1, 2])
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parsePerfCsv, parsePerfLine, summarizePerf } from './perf-csv.ts'

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

describe('parsePerfLine', () => {
  it.each([
    [
      '     0.100445386;3.55;msec;task-clock;3551820;100.00;0.036;CPUs utilized',
      {
        t: 0.100445386,
        event: 'task-clock',
        value: 3.55,
        unit: 'msec',
        status: 'counted',
        percentRunning: 100,
      },
    ],
    [
      '0.1;<not supported>;;cycles;0;100.00;;',
      {
        t: 0.1,
        event: 'cycles',
        value: null,
        unit: '',
        status: 'not-supported',
        percentRunning: 100,
      },
    ],
    [
      '0.2;<not counted>;msec;task-clock;0;100.00;;',
      {
        t: 0.2,
        event: 'task-clock',
        value: null,
        unit: 'msec',
        status: 'not-counted',
        percentRunning: 100,
      },
    ],
    [
      '0.3;312456789;;cycles;49935061;50.00;3.129;GHz',
      {
        t: 0.3,
        event: 'cycles',
        value: 312456789,
        unit: '',
        status: 'counted',
        percentRunning: 50,
      },
    ],
  ])('parses %s', (line, expected) => {
    expect(parsePerfLine(line)).toEqual(expected)
  })

  it.each([
    '',
    '# started on Sun Nov 29',
    'Workload failed: No such file or directory',
    'x;1;;e',
    '0.1;abc;;cycles',
  ])('skips %j', (line) => {
    expect(parsePerfLine(line)).toBeNull()
  })
})

describe('captured perf output', () => {
  it('marks hardware events not supported on a VM and sums software events', () => {
    const readings = parsePerfCsv(fixture('perf-vm-software-only.csv'))
    expect(readings.length).toBeGreaterThan(0)
    const s = summarizePerf(readings)
    expect(s.notSupported).toEqual(['cycles', 'instructions'])
    expect(s.totals['task-clock']).toBeGreaterThan(0)
    expect(s.units['task-clock']).toBe('msec')
  })

  it('keeps hardware counters and treats a not-counted interval as zero', () => {
    const s = summarizePerf(parsePerfCsv(fixture('perf-bare-metal.csv')))
    expect(s.notSupported).toEqual([])
    expect(s.totals.cycles).toBe(622456789)
    expect(s.totals['cache-misses']).toBe(1024)
    expect(s.totals['task-clock']).toBeCloseTo(199.89)
  })
})

import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseProcStat, parseProcStatus, processTree, sampleTree } from './procfs.ts'

const root = fileURLToPath(new URL('./fixtures/proc', import.meta.url))

describe('parseProcStat', () => {
  it('reads fields after a command name holding spaces and parentheses', () => {
    const s = parseProcStat(
      '4243 (my (weird) prog) R 4242 4242 4242 0 -1 4194560 100 0 0 0 300 100 0 0 20 0 1 0 12346 20000000 2560 1',
    )
    expect(s).toMatchObject({
      pid: 4243,
      comm: 'my (weird) prog',
      state: 'R',
      ppid: 4242,
      utime: 300,
      stime: 100,
      rssPages: 2560,
    })
  })

  it.each(['', 'garbage', '12 (short) S 1 2'])('rejects %j', (text) => {
    expect(parseProcStat(text)).toBeNull()
  })
})

describe('parseProcStatus', () => {
  it.each([
    [
      'VmHWM:\t  2500 kB\nVmRSS:\t  2000 kB\n',
      { vmHwmBytes: 2500 * 1024, vmRssBytes: 2000 * 1024 },
    ],
    ['Name:\tsleep\nState:\tZ (zombie)\n', { vmHwmBytes: null, vmRssBytes: null }],
  ])('parses %j', (text, expected) => {
    expect(parseProcStatus(text)).toEqual(expected)
  })
})

describe('process tree over a captured /proc', () => {
  it('follows children and grandchildren and ignores other processes', async () => {
    const tree = await processTree(4242, { root })
    expect(tree.map((s) => s.pid).sort()).toEqual([4242, 4243, 4250])
  })

  it('sums CPU (own + reaped children) and memory over the tree', async () => {
    const s = await sampleTree(4242, { root, clockTicks: 100, pageSize: 4096 })
    // (150+50+30+10) + (300+100) + (1+1) ticks at 100 Hz.
    expect(s).toEqual({
      processes: 3,
      cpuMs: 6420,
      rssBytes: (2000 + 10240) * 1024 + 100 * 4096,
      hwmBytes: (2500 + 20480) * 1024 + 100 * 4096,
    })
  })

  it('returns null when the root is gone', async () => {
    expect(await sampleTree(9999, { root })).toBeNull()
  })
})

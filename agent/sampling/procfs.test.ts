import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
      startTicks: 12346,
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

describe('process tree through the kernel children lists', () => {
  it("reads only the tree, following every thread's children file", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-procfs-'))
    try {
      await cp(root, dir, { recursive: true })
      const children = async (pid: number, tid: number, text: string) => {
        await mkdir(join(dir, String(pid), 'task', String(tid)), { recursive: true })
        await writeFile(join(dir, String(pid), 'task', String(tid), 'children'), text)
      }
      // 4243 was forked by a second thread of 4242; 4250 by 4243. 4300 names 4242 as parent in
      // its stat but is in no children list: only the full scan would find it.
      await children(4242, 4242, '')
      await children(4242, 4244, '4243 ')
      await children(4243, 4243, '4250 ')
      await children(4250, 4250, '')
      await mkdir(join(dir, '4300'))
      await writeFile(
        join(dir, '4300', 'stat'),
        '4300 (stray) S 4242 4242 4242 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 1 1 0 0',
      )
      expect((await processTree(4242, { root })).length).toBe(3)
      const tree = await processTree(4242, { root: dir })
      expect(tree.map((s) => s.pid).sort()).toEqual([4242, 4243, 4250])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

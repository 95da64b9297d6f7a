import { spawn } from 'node:child_process'
import { readdirSync, readlinkSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PseudoFiles } from './pseudo-files.ts'

const open = new Set<PseudoFiles>()
afterEach(() => {
  for (const f of open) f.close()
  open.clear()
})
const files = () => {
  const f = new PseudoFiles()
  open.add(f)
  return f
}
const STAT = `/proc/${process.pid}/stat`
const STATUS = `/proc/${process.pid}/status`
/**
 * This process's descriptors open on `path` (other descriptors come and go with the test runner,
 * so only these are counted).
 */
function openOn(path: string): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++
    } catch {
      // Closed meanwhile (the listing's own descriptor among them).
    }
  }
  return n
}

describe('PseudoFiles', () => {
  it('reads fresh text from a kept descriptor: the kernel regenerates it at offset 0', async () => {
    const child = spawn(process.execPath, ['-e', 'let x=0;for(;;)x++'])
    try {
      const f = files()
      const utime = () => Number(f.read(`/proc/${child.pid}/stat`)!.split(') ')[1]!.split(' ')[11])
      const first = utime()
      // The busy child gains clock ticks as soon as it is scheduled, sooner on an idle machine.
      for (let i = 0; i < 500 && utime() === first; i++) await new Promise((r) => setTimeout(r, 20))
      expect(utime()).toBeGreaterThan(first)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('fails with null once the process is gone, even if its pid is reused', async () => {
    const child = spawn('sleep', ['30'])
    const f = files()
    const path = `/proc/${child.pid}/stat`
    expect(f.read(path)).toContain('(sleep)')
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    expect(f.read(path)).toBeNull()
  })

  it('reads a file larger than its first buffer whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zkrunner-pseudo-files-'))
    try {
      const text = 'x'.repeat(100_000)
      await writeFile(join(dir, 'big'), text)
      expect(files().read(join(dir, 'big'))).toBe(text)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('keeps at most maxOpen descriptors and reads the rest once each', () => {
    const f = new PseudoFiles(1)
    open.add(f)
    expect(f.read(STAT)).toContain(`${process.pid} (`)
    expect(f.read(STATUS)).toContain(`Pid:\t${process.pid}`)
    expect(f.read(STATUS)).toContain('VmRSS:')
    expect([openOn(STAT), openOn(STATUS)]).toEqual([1, 0])
  })

  it('closes the descriptors a sweep did not see read, and all of them on close', () => {
    const f = files()
    f.read(STAT)
    f.read(STATUS)
    expect([openOn(STAT), openOn(STATUS)]).toEqual([1, 1])
    f.sweep()
    f.read(STAT)
    f.sweep()
    expect([openOn(STAT), openOn(STATUS)]).toEqual([1, 0])
    f.close()
    expect([openOn(STAT), openOn(STATUS)]).toEqual([0, 0])
    expect(f.read('/nonexistent/file')).toBeNull()
  })
})

import { spawn, spawnSync } from 'node:child_process'
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
/** Open descriptors of this process, counted by another process so the count opens none. */
const fdCount = () =>
  spawnSync('ls', [`/proc/${process.pid}/fd`])
    .stdout.toString()
    .trim()
    .split('\n').length

describe('PseudoFiles', () => {
  it('reads fresh text from a kept descriptor: the kernel regenerates it at offset 0', async () => {
    const child = spawn(process.execPath, ['-e', 'let x=0;for(;;)x++'])
    try {
      const f = files()
      const utime = () => Number(f.read(`/proc/${child.pid}/stat`)!.split(') ')[1]!.split(' ')[11])
      const first = utime()
      await new Promise((r) => setTimeout(r, 300))
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
    const before = fdCount()
    expect(f.read('/proc/self/stat')).toContain(`${process.pid} (`)
    expect(f.read('/proc/self/status')).toContain(`Pid:\t${process.pid}`)
    expect(f.read('/proc/self/status')).toContain('VmRSS:')
    expect(fdCount()).toBe(before + 1)
  })

  it('closes the descriptors a sweep did not see read, and all of them on close', () => {
    const f = files()
    const before = fdCount()
    f.read('/proc/self/stat')
    f.read('/proc/self/status')
    expect(fdCount()).toBe(before + 2)
    f.sweep()
    f.read('/proc/self/stat')
    f.sweep()
    expect(fdCount()).toBe(before + 1)
    f.close()
    expect(fdCount()).toBe(before)
    expect(f.read('/nonexistent/file')).toBeNull()
    expect(fdCount()).toBe(before)
  })
})

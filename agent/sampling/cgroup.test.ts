import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parseKeyed, parseNumber, parseProcCgroup, readCgroup, resolveCgroup } from './cgroup.ts'

const fx = (p: string) => fileURLToPath(new URL(`./fixtures/${p}`, import.meta.url))

describe('cgroup files', () => {
  it.each([
    ['52428800\n', 52428800],
    ['max\n', null],
    ['', null],
  ])('parseNumber(%j)', (text, expected) => {
    expect(parseNumber(text)).toBe(expected)
  })

  it('parses keyed files', () => {
    expect(parseKeyed('usage_usec 15\nuser_usec 10\n\n')).toEqual({ usage_usec: 15, user_usec: 10 })
  })

  it('parses a v1 /proc/<pid>/cgroup captured on this kind of host', () => {
    const map = parseProcCgroup(readFileSync(fx('proc-cgroup-v1.txt'), 'utf8'))
    expect(map.get('memory')).toMatch(/^\/process_api\//)
    expect(map.get('cpuacct')).toBe('/')
    expect(map.get('systemd')).toBe('/')
  })
})

describe.each([
  { version: 2 as const, procCgroup: '0::/job\n', mount: 'cgroup-v2' },
  { version: 1 as const, procCgroup: '4:memory:/job\n2:cpuacct:/job\n', mount: 'cgroup-v1' },
])('cgroup v$version', ({ version, procCgroup, mount }) => {
  it('resolves the paths and reads CPU and peak memory', async () => {
    const paths = resolveCgroup(procCgroup, fx(mount), version === 2)
    expect(paths?.version).toBe(version)
    const sample = await readCgroup(paths!)
    expect(sample).toEqual({ cpuMs: 1523.456, memoryBytes: 10485760, peakMemoryBytes: 52428800 })
  })
})

describe('missing controller', () => {
  it('reads as nulls, not an error', async () => {
    const sample = await readCgroup({ version: 2, cpuDir: fx('nowhere'), memoryDir: fx('nowhere') })
    expect(sample).toEqual({ cpuMs: null, memoryBytes: null, peakMemoryBytes: null })
  })
  it('has no v1 paths without cpuacct and memory lines', () => {
    expect(resolveCgroup('0::/\n', '/sys/fs/cgroup', false)).toBeNull()
  })
})

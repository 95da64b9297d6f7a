import { execFileSync } from 'node:child_process'
import { link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkOutputs, type OutputSpec, parseManifestOutputs } from '../../protocol/index.ts'
import {
  clearOutputs,
  MAX_OUTPUTS_FILE_BYTES,
  outputsFilePath,
  readOutputs,
  writeOutput,
} from './outputs-file.ts'

let cwd: string
let outside: string
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'zkrunner-outputs-'))
  outside = await mkdtemp(join(tmpdir(), 'zkrunner-outputs-outside-'))
})
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true })
  await rm(outside, { recursive: true, force: true })
})

const specs: OutputSpec[] = [
  { name: 'count', type: 'integer', required: true },
  { name: 'passed', type: 'boolean', required: true },
]
const secret = '{"name":"count","value":"424242"}\n'

describe('zkrunner-agent output (writeOutput)', () => {
  it('appends one line per output that the agent reads back', async () => {
    const file = outputsFilePath(cwd)
    await writeOutput({ file, name: 'count', value: '25', specs })
    await writeOutput({ file, name: 'passed', value: 'true', specs })
    expect(await readOutputs(cwd)).toEqual({
      present: true,
      problems: [],
      written: [
        { name: 'count', value: '25' },
        { name: 'passed', value: 'true' },
      ],
    })
  })

  it.each([
    ['nope', '1', /nope is not an output of this service \(declared: count, passed\)/],
    ['count', 'many', /count: must be an unsigned 64-bit integer/],
    ['passed', 'yes', /passed: must be true or false/],
    ['../x', '1', /must be letters, digits and _/],
  ])('refuses %s=%s where it is written', async (name, value, message) => {
    const file = outputsFilePath(cwd)
    await expect(writeOutput({ file, name, value, specs })).rejects.toThrow(message)
    expect(await readOutputs(cwd)).toMatchObject({ present: false, written: [] })
  })

  it('refuses a second write of the same name', async () => {
    const file = outputsFilePath(cwd)
    await writeOutput({ file, name: 'count', value: '1', specs })
    await expect(writeOutput({ file, name: 'count', value: '2', specs })).rejects.toThrow(
      /already written/,
    )
  })
})

describe('reading what the job wrote: job code cannot reach past its own outputs', () => {
  it('no outputs directory: nothing written, nothing wrong', async () => {
    expect(await readOutputs(cwd)).toEqual({ present: false, problems: [], written: [] })
  })

  it('refuses a .zkrunner that is a symlink to a directory elsewhere', async () => {
    await writeFile(join(outside, 'outputs.jsonl'), secret)
    await symlink(outside, join(cwd, '.zkrunner'))
    const r = await readOutputs(cwd)
    expect(r.written).toEqual([])
    expect(r.problems).toEqual([
      '.zkrunner/outputs.jsonl: .zkrunner is a symlink; no output was read from it',
    ])
  })

  it('refuses an outputs file that is a symlink', async () => {
    await writeFile(join(outside, 'x'), secret)
    await mkdir(join(cwd, '.zkrunner'))
    await symlink(join(outside, 'x'), outputsFilePath(cwd))
    const r = await readOutputs(cwd)
    expect(r.written).toEqual([])
    expect(r.problems[0]).toMatch(/a symlink; no output was read/)
  })

  it('refuses a hard link (it could name a file the job user cannot read)', async () => {
    await writeFile(join(outside, 'x'), secret)
    await mkdir(join(cwd, '.zkrunner'))
    try {
      await link(join(outside, 'x'), outputsFilePath(cwd))
    } catch {
      return // another file system: no hard link possible, nothing to refuse
    }
    const r = await readOutputs(cwd)
    expect(r.written).toEqual([])
    expect(r.problems[0]).toMatch(/hard-linked/)
  })

  it('refuses a FIFO without blocking, and a file too large, without reading it', async () => {
    await mkdir(join(cwd, '.zkrunner'))
    execFileSync('mkfifo', [outputsFilePath(cwd)])
    expect((await readOutputs(cwd)).problems[0]).toMatch(/not a regular file/)
    await rm(outputsFilePath(cwd))
    await writeFile(outputsFilePath(cwd), `${secret}${' '.repeat(MAX_OUTPUTS_FILE_BYTES)}`)
    const r = await readOutputs(cwd)
    expect(r.written).toEqual([])
    expect(r.problems[0]).toMatch(/larger than 65536 bytes/)
  })

  it('names lines that do not parse by number, never quoting them', async () => {
    await mkdir(join(cwd, '.zkrunner'))
    await writeFile(
      outputsFilePath(cwd),
      [
        'root:x:0:0:secret',
        '{"name":"count","value":"3","files":[]}',
        '{"name":"count","value":{"x":1}}',
        '{"name":"passed","value":true}',
        '',
      ].join('\n'),
    )
    const r = await readOutputs(cwd)
    expect(r.written).toEqual([{ name: 'passed', value: true }])
    expect(r.problems).toEqual([
      '.zkrunner/outputs.jsonl line 1: not {"name": …, "value": …}',
      '.zkrunner/outputs.jsonl line 2: not {"name": …, "value": …}',
      '.zkrunner/outputs.jsonl line 3: not {"name": …, "value": …}',
    ])
    expect(r.problems.join('')).not.toContain('secret')
  })

  it('clearOutputs removes a stale file, and a symlinked .zkrunner itself, never its target', async () => {
    await writeOutput({ file: outputsFilePath(cwd), name: 'count', value: '9' })
    await clearOutputs(cwd)
    expect((await readOutputs(cwd)).present).toBe(false)
    await rm(join(cwd, '.zkrunner'), { recursive: true })
    await writeFile(join(outside, 'outputs.jsonl'), secret)
    await symlink(outside, join(cwd, '.zkrunner'))
    await clearOutputs(cwd)
    expect(await readFile(join(outside, 'outputs.jsonl'), 'utf8')).toBe(secret)
    expect((await readOutputs(cwd)).present).toBe(false)
  })

  it('clearOutputs removes a directory left by that name (the next job would never start), not what its links point at', async () => {
    await mkdir(join(cwd, '.zkrunner', 'outputs.jsonl', 'deep'), { recursive: true })
    await writeFile(join(outside, 'kept'), secret)
    await symlink(outside, join(cwd, '.zkrunner', 'outputs.jsonl', 'deep', 'link'))
    await clearOutputs(cwd)
    expect((await readOutputs(cwd)).present).toBe(false)
    expect(await readFile(join(outside, 'kept'), 'utf8')).toBe(secret)
    await writeOutput({ file: outputsFilePath(cwd), name: 'count', value: '9' })
    expect((await readOutputs(cwd)).written).toHaveLength(1)
  })
})

describe('fuzz: whatever the job leaves in its outputs file', () => {
  it('is read without a throw, and gives outputs the manifest accepts, quoting none of it', async () => {
    await mkdir(join(cwd, '.zkrunner'))
    const line = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fc
        .record({
          name: fc.oneof(fc.constantFrom('count', 'passed', 'exitCode'), fc.string()),
          value: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.bigInt({ min: -1n, max: 1n << 65n })),
        })
        .map((r) =>
          JSON.stringify({
            name: r.name,
            value: typeof r.value === 'bigint' ? String(r.value) : r.value,
          }),
        ),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(line, { maxLength: 20 }).map((ls) => Buffer.from(ls.join('\n'))),
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        ),
        async (bytes) => {
          await writeFile(outputsFilePath(cwd), bytes)
          const read = await readOutputs(cwd)
          const outputs = checkOutputs(specs, read.written, read.problems)
          expect(parseManifestOutputs(outputs).ok).toBe(true)
          for (const p of read.problems) expect(p).toMatch(/^\.zkrunner\/outputs\.jsonl/)
        },
      ),
      { numRuns: 300 },
    )
  }, 120_000)
})

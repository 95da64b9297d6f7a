import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { parse as parseYaml } from 'yaml'
import type { OutputSpec, ParameterSpec } from '../protocol/index.ts'

const run = promisify(execFile)

/** The sample service's project folder, shipped with the repository. */
export const SAMPLE_PROJECT_DIR = new URL('../examples/sample-primes/', import.meta.url).pathname

/** One job of a `.gitlab-ci.yml`, as far as a shell runner needs it. */
export interface CiJob {
  name: string
  stage: string
  /** `script` lines, run in order; the first failing one fails the job. */
  script: string[]
  /** Global `variables`, then the job's own. */
  variables: Record<string, string>
}

/** The sample service's typed parameters: what the Worker validates before triggering. */
export const SAMPLE_PARAMETERS: ParameterSpec[] = [
  {
    name: 'LIMIT',
    type: 'integer',
    required: true,
    min: 1,
    max: 200_000_000,
    description: 'count the primes up to this number',
  },
  {
    name: 'OPT',
    type: 'enum',
    required: false,
    values: ['O0', 'O2'],
    default: 'O2',
    description: 'C optimisation level',
  },
]

/** The sample service's typed outputs (as examples/sample-primes/service.json declares them). */
export const SAMPLE_OUTPUTS: OutputSpec[] = [
  {
    name: 'passed',
    type: 'boolean',
    required: true,
    description: 'whether test.sh passed (the known prime counts)',
  },
  {
    name: 'primes',
    type: 'integer',
    required: false,
    description: 'the number of primes up to LIMIT (absent when the tests failed)',
  },
]

const asLines = (value: unknown, where: string): string[] => {
  const lines = typeof value === 'string' ? [value] : value
  if (!Array.isArray(lines) || !lines.every((l) => typeof l === 'string')) {
    throw new Error(`${where}: script must be a string or a list of strings`)
  }
  return lines
}

const asVariables = (value: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // GitLab allows `{ value, description }` for documented variables.
      const raw = v && typeof v === 'object' && 'value' in v ? (v as { value: unknown }).value : v
      out[k] = String(raw)
    }
  }
  return out
}

/** Reads job `name` from a project's `.gitlab-ci.yml` (script, stage, variables). */
export async function readCiJob(projectDir: string, name: string): Promise<CiJob> {
  const doc = parseYaml(await readFile(join(projectDir, '.gitlab-ci.yml'), 'utf8')) as Record<
    string,
    unknown
  >
  const job = doc[name] as Record<string, unknown> | undefined
  if (!job || typeof job !== 'object') throw new Error(`.gitlab-ci.yml has no job "${name}"`)
  return {
    name,
    stage: typeof job.stage === 'string' ? job.stage : 'test',
    script: asLines(job.script, name),
    variables: { ...asVariables(doc.variables), ...asVariables(job.variables) },
  }
}

/**
 * The source commitment of the project: the git tree SHA-1 of its folder at HEAD when it is
 * committed unchanged, else a SHA-1 over its files (same length, so it fits the same field).
 */
export async function sourceCommitment(projectDir: string): Promise<string> {
  try {
    const top = (
      await run('git', ['rev-parse', '--show-toplevel'], { cwd: projectDir })
    ).stdout.trim()
    const rel = relative(top, projectDir).replace(/\/$/, '')
    const dirty = (await run('git', ['status', '--porcelain', '--', '.'], { cwd: projectDir }))
      .stdout
    if (dirty.trim() === '') {
      return (await run('git', ['rev-parse', `HEAD:${rel}`], { cwd: top })).stdout.trim()
    }
  } catch {
    // Not a git checkout (an unpacked tarball): fall through to hashing the files.
  }
  const hash = createHash('sha1')
  for (const entry of (await readdir(projectDir, { recursive: true, withFileTypes: true })).sort(
    (a, b) => join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)),
  )) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    hash.update(`${relative(projectDir, path)}\0`)
    hash.update(await readFile(path))
  }
  return hash.digest('hex')
}

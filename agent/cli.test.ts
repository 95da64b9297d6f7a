import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Command } from 'commander'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  parseManifestBytes,
  parseResultReport,
  type ResultManifest,
  requestDigest,
  unwrap,
} from '../protocol/index.ts'
import { fileCallLedger } from './call/call-budget.ts'
import { buildProgram } from './cli.ts'
import { Spool } from './spool/spool.ts'

const execFileP = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const NODE = join(root, 'node_modules/.bin/node')
const CLI = ['--import', join(root, 'scripts/swc-register.mjs'), join(root, 'agent/cli.ts')]

let dir: string
/** Where the jobs run: not the data dir (the agent refuses a job directory that holds its key). */
let work: string
let worker: Server
let workerUrl: string
const reports: unknown[] = []
let failNext = 0
const service = generateMinaKeyPair().publicKey
const user = generateMinaKeyPair().publicKey
const commit = 'b'.repeat(40)
/** The options every `run` here names its job by. */
const JOB = ['--service', service, '--user', user, '--source-commitment', commit]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-agent-cli-'))
  work = await mkdtemp(join(tmpdir(), 'zkrunner-agent-cli-work-'))
  // A stand-in Worker: answers 503 `failNext` times, then records and acknowledges.
  worker = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      if (failNext > 0) {
        failNext--
        res.writeHead(503).end()
        return
      }
      reports.push({ url: req.url, body: JSON.parse(body) })
      res.writeHead(202, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r))
  const a = worker.address()
  workerUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
  await agent(['keygen'])
})
afterAll(async () => {
  worker.close()
  await rm(dir, { recursive: true, force: true })
  await rm(work, { recursive: true, force: true })
})

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ZKRUNNER_DATA_DIR: dir,
    ZKRUNNER_WORKER_URL: workerUrl,
    ZKRUNNER_METRICS_LISTEN: '',
    ZKRUNNER_INTERVAL_MS: '50',
    ...extra,
  }
}

async function agent(
  args: string[],
  extra: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(NODE, [...CLI, ...args], { env: env(extra), cwd: work })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

/** Starts `run` of `script` (sh -c) in the background; resolves once the job runs (its pid is spooled). */
async function startRun(jobId: string, script: string) {
  const child = spawn(NODE, [...CLI, 'run', '--job', jobId, ...JOB, '--', 'sh', '-c', script], {
    env: env(),
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise((r) => child.on('exit', r))
  const spool = new Spool(dir)
  for (let i = 0; i < 200; i++) {
    const s = await spool.state(jobId).catch(() => null)
    if (s?.pid) return { child, exited, spool, state: s }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`job ${jobId} did not start`)
}

/** The pid a job's script writes to `file`, once it has. */
async function pidIn(file: string): Promise<number> {
  for (let i = 0; i < 100 && !(await readFile(file, 'utf8').catch(() => '')); i++)
    await new Promise((r) => setTimeout(r, 20))
  return Number(await readFile(file, 'utf8'))
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie is gone too (it waits only for its parent to reap it).
  return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'))
}

describe('zkrunner-agent CLI', () => {
  it('--help works on every command', () => {
    const program = buildProgram()
    const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)]
    for (const cmd of all(program)) {
      let text = ''
      cmd.exitOverride().configureOutput({ writeOut: (t) => (text += t) })
      const path: string[] = []
      for (let c: Command | null = cmd; c && c !== program; c = c.parent) path.unshift(c.name())
      expect(() => program.parse([...path, '--help'], { from: 'user' })).toThrow(/help|outputHelp/)
      expect(text, path.join(' ')).toMatch(/^Usage: zkrunner-agent/)
    }
  })

  it('bad config: one line, stable code, non-zero exit', async () => {
    const r = await agent(['run', '--interval', 'soon', '--', 'true'])
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/INVALID_CONFIG/)
  })

  it('an artifact outside the job directory is refused before the job runs', async () => {
    for (const artifact of ['/etc/hostname', '../elsewhere.bin']) {
      const r = await agent(['run', ...JOB, '--artifact', artifact, '--', 'sh', '-c', 'echo ran'])
      expect(r.code).toBe(1)
      expect(r.stdout).not.toContain('ran')
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(
        /INVALID_CONFIG: ZKRUNNER_ARTIFACTS.*relative to the build directory/,
      )
    }
  })

  it('run: a driver call signs its call path into the manifest requestDigest, and the job sees it', async () => {
    const jobId = randomBytes(16).toString('hex')
    const callPath = [generateMinaKeyPair().publicKey]
    const r = await agent(
      ['run', '--job', jobId, ...JOB, '--', 'sh', '-c', 'echo "path=$ZKRUNNER_CALL_PATH"'],
      { ZKRUNNER_CALL_PATH: JSON.stringify(callPath) },
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`path=${JSON.stringify(callPath)}`)
    const manifest = unwrap(
      parseManifestBytes(await readFile(join(new Spool(dir).bundleDir(jobId), 'manifest.json'))),
    )
    expect(manifest.requestDigest).toBe(
      requestDigest({ requestId: jobId, service, user, parameters: {}, callPath }),
    )
  })

  it('run: the driver calls the job made and verified are listed in its signed manifest', async () => {
    const jobId = randomBytes(16).toString('hex')
    const ledger = fileCallLedger(dir)
    const inner = {
      service: generateMinaKeyPair().publicKey,
      jobId: randomBytes(16).toString('hex'),
      bundleCid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
      manifestDigest: 'ab'.repeat(32),
    }
    const budget = { perJob: 10n, perService: 10n }
    const spend = { price: 1n, cumulativeAmount: 1n }
    await ledger.reserve(jobId, { requestId: 'a'.repeat(32), ...spend }, budget, async () => {})
    await ledger.recordInner(jobId, 'a'.repeat(32), inner)
    // A call that was signed for but never verified is not listed.
    await ledger.reserve(jobId, { requestId: 'b'.repeat(32), ...spend }, budget, async () => {})
    const r = await agent(['run', '--job', jobId, ...JOB, '--', 'true'])
    expect(r.code, r.stderr).toBe(0)
    const manifest = unwrap(
      parseManifestBytes(await readFile(join(new Spool(dir).bundleDir(jobId), 'manifest.json'))),
    )
    expect(manifest.innerJobs).toEqual([inner])
  })

  it('run: output passes through, exit code kept, report retried until acknowledged, job queued', async () => {
    failNext = 1
    const jobId = randomBytes(16).toString('hex')
    const r = await agent(['run', '--job', jobId, ...JOB, '--', 'sh', '-c', 'echo visible; exit 4'])
    expect(r.code).toBe(4)
    const state = await new Spool(dir).state(jobId)
    // The job's output, then the bundle CID on a line of its own.
    expect(r.stdout).toBe(`visible\n${state.bundleCid}\n`)
    expect(state.phase).toBe('queued')
    const report = reports.find(
      (x) => (x as { url: string }).url === `/v1/jobs/${jobId}/result`,
    ) as { body: unknown }
    const parsed = parseResultReport(report.body)
    expect(parsed.ok).toBe(true)
    if (parsed.ok) expect(parsed.value.bundleCid).toBe(state.bundleCid)
  })

  it('killed agent, then resume: the job ends signed, pinned, reported; its samples kept', async () => {
    const jobId = randomBytes(16).toString('hex')
    const child = spawn(
      NODE,
      // The job outlives any wait below (`resume` stops it), so the kill lands while it runs on
      // a fast machine and a loaded one alike.
      [...CLI, 'run', '--job', jobId, ...JOB, '--', 'sh', '-c', 'echo started; sleep 60'],
      {
        env: env(),
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    const spool = new Spool(dir)
    // Kill the agent once the job runs (its pid is recorded).
    for (let i = 0; i < 200; i++) {
      const s = await spool.state(jobId).catch(() => null)
      if (s?.pid) break
      await new Promise((r) => setTimeout(r, 50))
    }
    // ... and has streamed a few samples.
    const samplesPath = join(spool.bundleDir(jobId), 'samples.jsonl')
    const procLines = async () =>
      (await readFile(samplesPath, 'utf8').catch(() => ''))
        .split('\n')
        .filter((l) => l.includes('"kind":"proc"')).length
    for (let i = 0; i < 1000 && (await procLines()) < 3; i++)
      await new Promise((r) => setTimeout(r, 20))
    child.kill('SIGKILL')
    await new Promise((r) => child.on('exit', r))
    const streamed = await procLines()
    expect(streamed).toBeGreaterThanOrEqual(3)
    const before = await spool.state(jobId)
    expect(before.phase).toBe('running')
    expect(alive(before.pid!)).toBe(true)
    const r = await agent(['resume'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`${jobId} queued`)
    const manifest = JSON.parse(
      await readFile(join(spool.bundleDir(jobId), 'manifest.json'), 'utf8'),
    ) as ResultManifest
    expect(manifest.signal).toBe('agent-lost')
    expect(manifest.files.map((f) => f.path)).toContain('stdout.log')
    expect(await procLines()).toBeGreaterThanOrEqual(streamed)
    expect(manifest.sampling.sampleCount).toBeGreaterThanOrEqual(streamed)
    expect(manifest.sampling.events.find((e) => e.event === 'peak-rss')?.total).toBeGreaterThan(0)
    expect((await spool.state(jobId)).bundleCid).toMatch(/^bafy/)
  })

  it('killed agent whose job runs on, then resume at once: the orphan is stopped and the job still ends queued', async () => {
    // The job outlives its agent: it writes nothing more (which would kill it through the dead
    // agent's pipe) and its child ignores SIGTERM. `resume` must not leave it `running` for ever.
    const jobId = randomBytes(16).toString('hex')
    const pidFile = join(dir, `${jobId}.child`)
    const run = await startRun(
      jobId,
      `sh -c 'trap "" TERM; sleep 60' & echo $! > ${pidFile}; echo started; wait`,
    )
    const childPid = await pidIn(pidFile)
    run.child.kill('SIGKILL')
    await run.exited
    expect(alive(run.state.pid!)).toBe(true)
    const r = await agent(['resume'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`${jobId} queued`)
    expect(alive(run.state.pid!)).toBe(false)
    expect(alive(childPid)).toBe(false)
    const manifest = JSON.parse(
      await readFile(join(run.spool.bundleDir(jobId), 'manifest.json'), 'utf8'),
    ) as ResultManifest
    expect(manifest.signal).toBe('agent-lost')
    expect(await readFile(join(run.spool.bundleDir(jobId), 'stdout.log'), 'utf8')).toBe('started\n')
  })

  it("resume also stops what left the orphan's process tree but not its cgroup, and removes the cgroup", async (ctx) => {
    const jobId = randomBytes(16).toString('hex')
    const pidFile = join(dir, `${jobId}.escaped`)
    // The subshell forks a sleeper and exits: the sleeper is reparented away from the job's tree.
    const run = await startRun(
      jobId,
      `(sh -c 'trap "" TERM; exec sleep 60' & echo $! > ${pidFile}); echo started; sleep 60`,
    )
    const dirs = run.state.cgroupDirs ?? []
    // Only where the host lets the agent create a cgroup for the job (root on v1, delegated v2).
    if (dirs.length === 0) ctx.skip()
    const escaped = await pidIn(pidFile)
    expect(alive(escaped)).toBe(true)
    run.child.kill('SIGKILL')
    await run.exited
    const r = await agent(['resume'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`${jobId} queued`)
    expect(alive(run.state.pid!)).toBe(false)
    expect(alive(escaped)).toBe(false)
    for (const d of dirs) expect(existsSync(d)).toBe(false)
  })

  it('resume leaves a job alone while its agent still runs it', async () => {
    const jobId = randomBytes(16).toString('hex')
    // The job runs until the test lets it end, after `resume` has looked at it.
    const go = join(dir, `${jobId}.go`)
    const run = await startRun(jobId, `while [ ! -e ${go} ]; do sleep 0.05; done; echo done`)
    const r = await agent(['resume'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`${jobId} running`)
    expect(alive(run.state.pid!)).toBe(true)
    await writeFile(go, '')
    await run.exited
    expect(run.child.exitCode).toBe(0)
    const manifest = JSON.parse(
      await readFile(join(run.spool.bundleDir(jobId), 'manifest.json'), 'utf8'),
    ) as ResultManifest
    expect(manifest.exitCode).toBe(0)
    expect((await run.spool.state(jobId)).phase).toBe('queued')
  })

  // Nine calls of the CLI, each a Node start with the TypeScript loader: slow on a loaded host.
  it('run: the job writes its declared outputs with `zkrunner-agent output`; they are checked and signed', {
    timeout: 240_000,
  }, async () => {
    const declared = JSON.stringify([
      { name: 'primes', type: 'integer', required: true },
      { name: 'passed', type: 'boolean', required: true },
    ])
    const za = `${NODE} ${CLI.join(' ')}`
    // A stale file from an earlier job in the same directory is not this job's.
    await mkdir(join(work, '.zkrunner'), { recursive: true })
    await writeFile(join(work, '.zkrunner/outputs.jsonl'), '{"name":"primes","value":"1"}\n')
    const jobId = randomBytes(16).toString('hex')
    const script = [
      'set -e',
      'mkdir -p sub && cd sub',
      `${za} output primes 25`,
      `${za} output passed true`,
      // An undeclared name and a second write fail where they are written, and change nothing.
      `! ${za} output requestDigest 00 2>>../refused.txt`,
      `! ${za} output primes 26 2>>../refused.txt`,
    ].join('\n')
    const r = await agent(['run', '--job', jobId, ...JOB, '--', 'sh', '-c', script], {
      ZKRUNNER_OUTPUTS: declared,
    })
    expect(r.code, r.stderr).toBe(0)
    const refused = await readFile(join(work, 'refused.txt'), 'utf8')
    expect(refused).toMatch(/requestDigest is not an output of this service/)
    expect(refused).toMatch(/primes was already written/)
    const manifest = unwrap(
      parseManifestBytes(await readFile(join(new Spool(dir).bundleDir(jobId), 'manifest.json'))),
    )
    expect(manifest.outputs).toEqual({
      valid: true,
      problems: [],
      values: [
        { name: 'primes', type: 'integer', value: '25' },
        { name: 'passed', type: 'boolean', value: true },
      ],
    })
    expect(manifest.requestDigest).toBe(
      requestDigest({ requestId: jobId, service, user, parameters: {} }),
    )

    // Written by hand, a value that does not parse marks the job outputs-invalid, said in the log
    // and the manifest; the result is still signed and delivered.
    const bad = randomBytes(16).toString('hex')
    const r2 = await agent(
      [
        'run',
        '--job',
        bad,
        ...JOB,
        '--',
        'sh',
        '-c',
        'mkdir -p .zkrunner && echo \'{"name":"primes","value":"lots"}\' > .zkrunner/outputs.jsonl',
      ],
      { ZKRUNNER_OUTPUTS: declared },
    )
    expect(r2.code).toBe(0)
    expect(r2.stderr).toMatch(/outputs invalid: primes: must be an unsigned 64-bit integer/)
    const m2 = unwrap(
      parseManifestBytes(await readFile(join(new Spool(dir).bundleDir(bad), 'manifest.json'))),
    )
    expect(m2.outputs?.valid).toBe(false)
    expect(m2.outputs?.problems).toEqual([
      'primes: must be an unsigned 64-bit integer in decimal',
      'passed: required, but the job did not write it',
    ])
    expect((await new Spool(dir).state(bad)).phase).toBe('queued')
  })

  it('executor: driven the way GitLab Runner calls it', { timeout: 240_000 }, async () => {
    const jobId = randomBytes(16).toString('hex')
    const project = join(dir, 'project')
    await writeFile(
      join(dir, 'step.sh'),
      `#!/usr/bin/env bash\nset -e\nmkdir -p "${project}" && cd "${project}" && echo built > out.txt && echo job-log\ncd /tmp && ${NODE} ${CLI.join(' ')} output ok true\n`,
    )
    await writeFile(join(dir, 'failing.sh'), '#!/usr/bin/env bash\nexit 3\n')
    await writeFile(join(dir, 'prep.sh'), '#!/usr/bin/env bash\necho preparing\n')
    const gitlab = {
      BUILD_FAILURE_EXIT_CODE: '37',
      SYSTEM_FAILURE_EXIT_CODE: '38',
      CUSTOM_ENV_CI_COMMIT_SHA: commit,
      CUSTOM_ENV_CI_PROJECT_DIR: project,
      CUSTOM_ENV_ZKRUNNER_JOB_ID: jobId,
      CUSTOM_ENV_ZKRUNNER_SERVICE: service,
      CUSTOM_ENV_ZKRUNNER_USER: user,
      CUSTOM_ENV_ZKRUNNER_ARTIFACTS: 'out.txt',
      CUSTOM_ENV_ZKRUNNER_PARAMETERS: '{"TARGET":"release"}',
      CUSTOM_ENV_TARGET: 'release',
      CUSTOM_ENV_ZKRUNNER_OUTPUTS: '[{"name":"ok","type":"boolean"}]',
    }
    const cfg = await agent(['executor', 'config'], gitlab)
    expect(JSON.parse(cfg.stdout)).toMatchObject({
      driver: { name: 'zkrunner' },
      builds_dir: `${dir}-builds`,
    })
    expect((await agent(['executor', 'prepare'], gitlab)).code).toBe(0)
    const prep = await agent(['executor', 'run', join(dir, 'prep.sh'), 'prepare_script'], gitlab)
    expect(prep).toMatchObject({ code: 0, stdout: 'preparing\n' })
    const step = await agent(['executor', 'run', join(dir, 'step.sh'), 'step_script'], gitlab)
    expect(step.code, step.stderr).toBe(0)
    expect(step.stdout).toBe(`job-log\n${(await new Spool(dir).state(jobId)).bundleCid}\n`)
    // The manifest is stored as its canonical bytes and binds the request the Worker passed.
    const manifest = unwrap(
      parseManifestBytes(await readFile(join(new Spool(dir).bundleDir(jobId), 'manifest.json'))),
    )
    expect(manifest.files.map((f) => f.path)).toContain('artifacts/out.txt')
    // Written from another directory: the agent told the job where its outputs file is.
    expect(manifest.outputs?.values).toEqual([{ name: 'ok', type: 'boolean', value: true }])
    expect(manifest.requestDigest).toBe(
      requestDigest({ requestId: jobId, service, user, parameters: { TARGET: 'release' } }),
    )
    const failed = await agent(['executor', 'run', join(dir, 'failing.sh'), 'after_script'], gitlab)
    expect(failed.code).toBe(37)
    const broken = await agent(['executor', 'run', join(dir, 'step.sh'), 'step_script'], {
      ...gitlab,
      CUSTOM_ENV_ZKRUNNER_USER: '',
    })
    expect(broken.code).toBe(38)
    expect((await agent(['executor', 'cleanup'], gitlab)).code).toBe(0)
  })
})

import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateMinaKeyPair, type ResultManifest } from '../../protocol/index.ts'
import { Spool } from '../spool/spool.ts'

// The agent on a GitHub self-hosted runner, through the real CLI: the identity comes from the
// dispatch inputs in GITHUB_EVENT_PATH, the commit that ran from the checkout, and the job hooks
// refuse a job before its steps.

const execFileP = promisify(execFile)
const root = new URL('../..', import.meta.url).pathname
const NODE = join(root, 'node_modules/.bin/node')
const CLI = ['--import', join(root, 'scripts/swc-register.mjs'), join(root, 'agent/cli.ts')]

let base: string
let dataDir: string
let repo: string
let head: string
let worker: Server
let workerUrl: string
const reports: string[] = []
const service = generateMinaKeyPair().publicKey
const user = generateMinaKeyPair().publicKey

const git = (args: string[], cwd: string) =>
  execFileP('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd })

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'zkrunner-github-'))
  dataDir = join(base, 'data')
  repo = join(base, 'workspace')
  await mkdir(repo)
  await git(['init', '-q'], repo)
  await writeFile(join(repo, 'job.sh'), 'echo hi\n')
  await git(['add', '.'], repo)
  await git(['commit', '-qm', 'one'], repo)
  head = (await git(['rev-parse', 'HEAD'], repo)).stdout.trim()
  worker = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      reports.push(req.url ?? '')
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r))
  const a = worker.address()
  workerUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
  expect((await agent(['keygen'], {})).code).toBe(0)
})
afterAll(async () => {
  worker.close()
  await rm(base, { recursive: true, force: true })
})

/** A dispatch event file as the runner writes it, and the variables GitHub sets for a step. */
async function githubEnv(
  inputs: Record<string, string>,
  extra: NodeJS.ProcessEnv = {},
): Promise<NodeJS.ProcessEnv> {
  const eventPath = join(base, `event-${randomBytes(4).toString('hex')}.json`)
  await writeFile(eventPath, JSON.stringify({ inputs, ref: 'refs/heads/main', workflow: 'z.yml' }))
  return {
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'workflow_dispatch',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SHA: head,
    GITHUB_RUN_ID: '30433642',
    GITHUB_REPOSITORY: 'octo/primes',
    GITHUB_WORKSPACE: repo,
    ...extra,
  }
}

const inputs = (jobId: string, extra: Record<string, string> = {}) => ({
  ZKRUNNER_JOB_ID: jobId,
  ZKRUNNER_SERVICE: service,
  ZKRUNNER_USER: user,
  ZKRUNNER_SOURCE_COMMITMENT: head,
  ...extra,
})

async function agent(
  args: string[],
  extra: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { ZKRUNNER_RUNNER_KEY: _k, ...rest } = process.env
  const env = {
    ...rest,
    ZKRUNNER_DATA_DIR: dataDir,
    ZKRUNNER_WORKER_URL: workerUrl,
    ZKRUNNER_METRICS_LISTEN: '',
    ZKRUNNER_INTERVAL_MS: '50',
    ZKRUNNER_REPORT_ATTEMPTS: '1',
    ...extra,
  }
  try {
    const r = await execFileP(NODE, [...CLI, ...args], { env, cwd: repo })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)

describe('the agent on a GitHub self-hosted runner', { timeout: 300_000 }, () => {
  it('run: identity from the dispatch inputs (not env:), parameters checked against the step, no GITHUB_TOKEN, CID last', async () => {
    const jobId = randomBytes(16).toString('hex')
    const r = await agent(
      ['run', '--', 'env'],
      await githubEnv(inputs(jobId, { ZKRUNNER_PARAMETERS: '{"LIMIT":"7"}', LIMIT: '7' }), {
        LIMIT: '7',
        // A workflow's env: (or a step writing $GITHUB_ENV) cannot rename the job.
        ZKRUNNER_JOB_ID: 'f'.repeat(32),
        GITHUB_TOKEN: 'ghs_secretsecret',
        ACTIONS_RUNTIME_TOKEN: 'runtime-secret',
      }),
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^ZKRUNNER_JOB_ID=${jobId}$`, 'm'))
    expect(r.stdout).toMatch(/^LIMIT=7$/m)
    expect(r.stdout).toMatch(/^GITHUB_RUN_ID=30433642$/m)
    expect(r.stdout).not.toMatch(/ghs_secretsecret|runtime-secret/)
    const state = await new Spool(dataDir).state(jobId)
    expect(state.phase).toBe('queued')
    expect(lastLine(r.stdout)).toBe(state.bundleCid)
    expect(reports).toContain(`/v1/jobs/${jobId}/result`)
    expect(existsSync(new Spool(dataDir).jobDir('f'.repeat(32)))).toBe(false)
  })

  it('run: outputs are declared by the dispatch inputs (not env:) and written with `zkrunner-agent output`', async () => {
    const jobId = randomBytes(16).toString('hex')
    const za = `${NODE} ${CLI.join(' ')}`
    const r = await agent(
      [
        'run',
        '--',
        'sh',
        '-c',
        `${za} output passed true && ! ${za} output forged 1 2>/dev/null && echo wrote`,
      ],
      await githubEnv(
        inputs(jobId, { ZKRUNNER_OUTPUTS: '[{"name":"passed","type":"boolean"}]' }),
        // A workflow's env: cannot declare other outputs.
        { ZKRUNNER_OUTPUTS: '[{"name":"forged","type":"integer"}]' },
      ),
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^wrote$/m)
    const manifest = JSON.parse(
      await readFile(join(new Spool(dataDir).bundleDir(jobId), 'manifest.json'), 'utf8'),
    ) as ResultManifest
    expect(manifest.outputs).toEqual({
      valid: true,
      problems: [],
      values: [{ name: 'passed', type: 'boolean', value: true }],
    })
  })

  it('run: a parameter the step does not see as dispatched, or a bad input, is refused before anything is written', async () => {
    const jobId = randomBytes(16).toString('hex')
    const r = await agent(
      ['run', '--', 'true'],
      await githubEnv(inputs(jobId, { ZKRUNNER_PARAMETERS: '{"LIMIT":"7"}' }), { LIMIT: '8' }),
    )
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/LIMIT/)
    expect(existsSync(new Spool(dataDir).jobDir(jobId))).toBe(false)
    const bad = await agent(['run', '--', 'true'], await githubEnv(inputs('../x')))
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/INVALID_CONFIG: ZKRUNNER_JOB_ID/)
  })

  it('run: the commit checked out, not GITHUB_SHA, is compared with the source commitment', async () => {
    const jobId = randomBytes(16).toString('hex')
    const marker = join(base, `ran-${jobId}`)
    // GITHUB_SHA agrees with the commitment, but the step checked out another commit.
    const r = await agent(
      ['run', '--', 'touch', marker],
      await githubEnv(inputs(jobId, { ZKRUNNER_SOURCE_COMMITMENT: 'a'.repeat(40) }), {
        GITHUB_SHA: 'a'.repeat(40),
      }),
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`commits to a{40} but the CI checked out ${head}`))
    expect(existsSync(marker)).toBe(false)
    const state = await new Spool(dataDir).state(jobId)
    expect(state.notRun).toBe('source-mismatch')
    expect(lastLine(r.stdout)).toBe(state.bundleCid)
  })

  it('hooks: started refuses a mismatched run before its steps with a signed not-run result; completed prints the CID or fails a job that left none', async () => {
    const jobId = randomBytes(16).toString('hex')
    const mismatched = await githubEnv(inputs(jobId), { GITHUB_SHA: 'b'.repeat(40) })
    const started = await agent(['github', 'hook', 'started'], mismatched)
    expect(started.code).toBe(1)
    expect(started.stderr).toMatch(/source mismatch/)
    const spool = new Spool(dataDir)
    const state = await spool.state(jobId)
    const manifest = JSON.parse(
      await readFile(join(spool.bundleDir(jobId), 'manifest.json'), 'utf8'),
    ) as ResultManifest
    expect(manifest).toMatchObject({ notRun: 'source-mismatch', jobId })
    expect(lastLine(started.stdout)).toBe(state.bundleCid)
    const completed = await agent(['github', 'hook', 'completed'], mismatched)
    expect(completed.code).toBe(0)
    expect(lastLine(completed.stdout)).toBe(state.bundleCid)

    const fine = await githubEnv(inputs(randomBytes(16).toString('hex')))
    expect((await agent(['github', 'hook', 'started'], fine)).code).toBe(0)
    // No step ran the job under the agent: the job must not look like a success.
    const none = await agent(['github', 'hook', 'completed'], fine)
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/ALERT: zkrunner job [0-9a-f]{32} ended without a result/)

    // A run that is not a zkrunner job (a push, or a dispatch without ZKRUNNER_JOB_ID) passes untouched.
    const push = { ...(await githubEnv(inputs(randomBytes(16).toString('hex')))) }
    push.GITHUB_EVENT_NAME = 'push'
    expect((await agent(['github', 'hook', 'completed'], push)).code).toBe(0)
    expect((await agent(['github', 'hook', 'started'], await githubEnv({ other: 'x' }))).code).toBe(
      0,
    )
  })
})

import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Spool } from '../agent/spool/spool.ts'
import {
  canonicalJson,
  generateMinaKeyPair,
  parseManifestBytes,
  parseServiceDescriptor,
  unwrap,
} from '../protocol/index.ts'
import { runAsSelfHostedRunner } from './runner.ts'
import { startGithubStandin } from './server.ts'
import type { GithubStandin } from './types.ts'
import { parseWorkflow } from './workflow.ts'

// The sample project's GitHub workflow, dispatched on the stand-in and run as a self-hosted runner
// with the real agent in its job hooks and as the run: steps' shell: the whole path of a job
// except the Worker.

const root = new URL('..', import.meta.url).pathname
const sampleDir = join(root, 'examples/sample-primes')
const sampleDescriptor = unwrap(
  parseServiceDescriptor(JSON.parse(readFileSync(join(sampleDir, 'service.json'), 'utf8'))),
)
let base: string
let standin: GithubStandin
let worker: Server
const reports: string[] = []

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'zkrunner-gh-agent-'))
  worker = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      reports.push(req.url ?? '')
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r))
})
afterAll(async () => {
  await standin?.close()
  worker.close()
  await rm(base, { recursive: true, force: true })
})

describe('the sample workflow on a self-hosted runner with the agent', { timeout: 300_000 }, () => {
  it('is checked by the started hook, sampled and reported by the step shell, and its CID printed by the completed hook', async () => {
    // The sample as its own repository: the checkout's commit is the source commitment.
    const src = join(base, 'src')
    await cp(sampleDir, src, { recursive: true })
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-C', src, ...args], {
        encoding: 'utf8',
      }).trim()
    git('init', '-q')
    git('add', '.')
    git('commit', '-qm', 'sample')
    const sha = git('rev-parse', 'HEAD')

    // `zkrunner-agent` on the runner's PATH, as an operator installs it.
    const bin = join(base, 'bin')
    await mkdir(bin)
    const agent = join(bin, 'zkrunner-agent')
    await writeFile(
      agent,
      `#!/bin/sh\nexec "${join(root, 'node_modules/.bin/node')}" --import "${join(root, 'scripts/swc-register.mjs')}" "${join(root, 'agent/cli.ts')}" "$@"\n`,
    )
    await chmod(agent, 0o755)
    const dataDir = join(base, 'data')
    const { ZKRUNNER_RUNNER_KEY: _k, ...hostEnv } = process.env
    const runnerEnv = {
      ...hostEnv,
      PATH: `${bin}:${process.env.PATH}`,
      ZKRUNNER_DATA_DIR: dataDir,
      ZKRUNNER_WORKER_URL: `http://127.0.0.1:${(worker.address() as AddressInfo).port}`,
      ZKRUNNER_METRICS_LISTEN: '',
      ZKRUNNER_REPORT_ATTEMPTS: '1',
    }
    execFileSync(agent, ['keygen'], { env: runnerEnv })

    const workflow = parseWorkflow(
      await readFile(join(sampleDir, '.github/workflows/zkrunner.yml'), 'utf8'),
    )
    const work = join(base, 'work')
    await mkdir(work)
    standin = await startGithubStandin({
      repos: [
        {
          owner: 'zkrunner',
          name: 'sample-primes',
          tokens: ['github_pat_x'],
          sha,
          workflows: [{ id: 1, file: 'zkrunner.yml', ...workflow.workflow }],
        },
      ],
      runJob: (ctx) =>
        runAsSelfHostedRunner(
          {
            workDir: work,
            checkoutFrom: src,
            hooks: {
              started: [agent, 'github', 'hook', 'started'],
              completed: [agent, 'github', 'hook', 'completed'],
            },
            env: runnerEnv,
          },
          workflow,
          ctx,
        ),
    })
    const jobId = 'ab'.repeat(16)
    const res = await fetch(
      `${standin.url}/api/v3/repos/zkrunner/sample-primes/actions/workflows/zkrunner.yml/dispatches`,
      {
        method: 'POST',
        headers: { authorization: 'Bearer github_pat_x', 'content-type': 'application/json' },
        body: JSON.stringify({
          ref: 'main',
          return_run_details: true,
          inputs: {
            ZKRUNNER_JOB_ID: jobId,
            ZKRUNNER_SERVICE: generateMinaKeyPair().publicKey,
            ZKRUNNER_USER: generateMinaKeyPair().publicKey,
            ZKRUNNER_SOURCE_COMMITMENT: sha,
            // As the Worker sends them: every parameter, defaults filled in.
            ZKRUNNER_PARAMETERS: '{"LIMIT":"1000","OPT":"O2"}',
            // As the Worker sends them: the descriptor's outputs, canonical JSON.
            ZKRUNNER_OUTPUTS: canonicalJson(sampleDescriptor.outputs),
            LIMIT: '1000',
            OPT: 'O2',
          },
        }),
      },
    )
    expect(res.status).toBe(200)
    await standin.idle()
    const run = standin.runs[0]!
    const log = run.jobs[0]!.log
    expect(run.conclusion, log).toBe('success')
    expect(log).toContain('ok pi(1000) = 168')
    expect(log).toMatch(/primes up to 1000:\n168\n/)
    const spool = new Spool(dataDir)
    const state = await spool.state(jobId)
    expect(state.phase).toBe('queued')
    expect(reports).toContain(`/v1/jobs/${jobId}/result`)
    // The step and the completed hook each end with the CID on a line of its own.
    expect(log.split('\n').filter((l) => l === state.bundleCid)).toHaveLength(2)
    const stdout = await readFile(join(spool.bundleDir(jobId), 'stdout.log'), 'utf8')
    expect(stdout).toContain('ok pi(1000) = 168')
    // The step wrote its typed outputs with `zkrunner-agent output`; the agent signed them.
    const manifest = unwrap(
      parseManifestBytes(await readFile(join(spool.bundleDir(jobId), 'manifest.json'))),
    )
    expect(manifest.outputs).toEqual({
      valid: true,
      problems: [],
      values: [
        { name: 'passed', type: 'boolean', value: true },
        { name: 'primes', type: 'integer', value: '168' },
      ],
    })
  })
})

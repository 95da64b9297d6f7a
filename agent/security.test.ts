import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, statSync } from 'node:fs'
import {
  chmod,
  chown,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { runAsSelfHostedRunner } from '../github-standin/runner.ts'
import { startGithubStandin } from '../github-standin/server.ts'
import type { GithubStandin, RunJobContext } from '../github-standin/types.ts'
import { parseWorkflow } from '../github-standin/workflow.ts'
import {
  generateMinaKeyPair,
  newRequestId,
  parseResultReport,
  privateCommitment,
  type ResultManifest,
  signResultReport,
  signVoucher,
  verifyManifest,
  verifyResultReport,
} from '../protocol/index.ts'
import { githubRunnerDirs, startGithubRunner } from '../stack/github-runner.ts'
import { Supervisor } from '../stack/supervisor.ts'
import { collectArtifacts } from './bundle/artifacts.ts'
import { readSealed } from './bundle/build-bundle.ts'
import { fileCallLedger } from './call/call-budget.ts'
import type { CallResult, OuterJob } from './call/call-driver.ts'
import { loadConfig } from './config.ts'
import { jobIsolation, lookupUser } from './isolation/job-user.ts'
import { KEY_FILE } from './keys.ts'
import { JobMetrics } from './metrics/metrics.ts'
import { pendingBatches } from './settle/settle-queue.ts'
import { MAX_SIGNER_CONNECTIONS, SIGNER_REQUEST_TIMEOUT_MS } from './signer/signer-protocol.ts'
import { startSigner } from './signer/signer-server.ts'
import { Spool, writeDurable } from './spool/spool.ts'

// The runner's key stays with the runner: every attack of issue 14 that a job (or whoever
// controls its variables) can make on the agent, run against the real CLI.

const execFileP = promisify(execFile)
const root = new URL('..', import.meta.url).pathname
const NODE = join(root, 'node_modules/.bin/node')
const CLI = ['--import', join(root, 'scripts/swc-register.mjs'), join(root, 'agent/cli.ts')]
const asRoot = process.getuid?.() === 0

let base: string
let dataDir: string
let work: string
let worker: Server
let workerUrl: string
let runnerKey: string
const reports: { url: string; body: unknown }[] = []
/** Job ids the stand-in Worker answers 409 for (it holds another result). */
const conflicting = new Set<string>()
const service = generateMinaKeyPair().publicKey
const userKey = generateMinaKeyPair()
const user = userKey.publicKey
/** The user's voucher: a job that carries one is what settlement would charge. */
const voucher = JSON.stringify(
  signVoucher({ v: 1, user, service, cumulativeAmount: '10', nonce: '1' }, userKey.privateKey),
)
const commit = 'c'.repeat(40)

/**
 * What the stand-in Worker answers for `GET /v1/jobs/:id`: the fields of the Worker's job view
 * (worker/README) for the jobs it dispatched. A job it never dispatched is a 404.
 */
interface HeldJob {
  jobId: string
  service: string
  user: string
  status: string
  createdAt: string
  pipeline: { id: string; projectId: null; webUrl: null } | null
  history: never[]
  result: unknown
}
const workerJobs = new Map<string, HeldJob>()
/** How the stand-in Worker answers reads: as it should, 503, or a page that is not JSON. */
let workerReads: 'up' | 'down' | 'garbage' = 'up'
/** The source commitment the Worker double's service descriptor holds (a private test sets its own). */
let serviceCommitment = commit
/** The GitHub repository and workflow of the signer tests' service. */
const REPO = { owner: 'octo', name: 'svc', workflow: 'zkrunner.yml', token: 'read-only-token' }
const JOB = ['--service', service, '--user', user, '--source-commitment', commit]

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'zkrunner-security-'))
  dataDir = join(base, 'data')
  // The job's directory: the job user must be able to work there.
  work = join(base, 'work')
  await mkdir(work)
  await chmod(base, 0o755)
  await chmod(work, 0o777)
  worker = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      if (req.method === 'GET') {
        const json = (status: number, value: unknown) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value))
        if (workerReads === 'down') return json(503, { error: { code: 'unavailable' } })
        if (workerReads === 'garbage')
          return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>')
        const job = /^\/v1\/jobs\/([0-9a-f]{32})$/.exec(req.url ?? '')?.[1]
        const held = job ? workerJobs.get(job) : undefined
        if (held) return json(200, held)
        if (req.url === `/v1/services/${service}`)
          return json(200, {
            service,
            enabled: true,
            registered: true,
            retired: false,
            descriptor: {
              v: 1,
              name: 'svc',
              provider: 'github',
              providerUrl: 'https://github.com',
              project: `${REPO.owner}/${REPO.name}`,
              ref: 'main',
              workflow: REPO.workflow,
              job: 'test',
              sourceCommitment: serviceCommitment,
              pricePerJob: '10',
            },
          })
        return json(404, { error: { code: 'not_found', message: 'no such job' } })
      }
      const jobId = /\/v1\/jobs\/([0-9a-f]+)\/result/.exec(req.url ?? '')?.[1] ?? ''
      if (conflicting.has(jobId)) {
        res.writeHead(409, { 'content-type': 'application/json' })
        res.end(
          '{"error":{"code":"result_conflict","message":"a different result is already stored"}}',
        )
        return
      }
      reports.push({ url: req.url ?? '', body: JSON.parse(body) })
      const held = workerJobs.get(jobId)
      if (held) held.result = JSON.parse(body)
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => worker.listen(0, '127.0.0.1', r))
  const a = worker.address()
  workerUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
  const k = await agent(['keygen'])
  expect(k.code, k.stderr).toBe(0)
  runnerKey = (
    JSON.parse(await readFile(join(dataDir, KEY_FILE), 'utf8')) as { privateKey: string }
  ).privateKey
})
afterAll(async () => {
  worker.close()
  await rm(base, { recursive: true, force: true })
})

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { ZKRUNNER_RUNNER_KEY: _k, ...rest } = process.env
  return {
    ...rest,
    ZKRUNNER_DATA_DIR: dataDir,
    ZKRUNNER_WORKER_URL: workerUrl,
    ZKRUNNER_METRICS_LISTEN: '',
    ZKRUNNER_INTERVAL_MS: '50',
    ZKRUNNER_REPORT_ATTEMPTS: '1',
    ...extra,
  }
}

async function agent(
  args: string[],
  extra: NodeJS.ProcessEnv = {},
  opts: { cwd?: string; umask?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  // `umask` runs the agent under that umask (through sh): modes must not depend on it.
  const [cmd, argv] = opts.umask
    ? ['/bin/sh', ['-c', `umask ${opts.umask}; exec "$@"`, 'sh', NODE, ...CLI, ...args]]
    : [NODE, [...CLI, ...args]]
  try {
    const r = await execFileP(cmd, argv, { env: env(extra), cwd: opts.cwd ?? work })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

/**
 * What a hostile job does: print its environment, the key file, and the environment of every
 * ancestor process (the agent among them) from /proc. Markers show each attempt ran.
 */
const THIEF = (keyFile: string) =>
  [
    'echo tried-env; env',
    `echo tried-file; cat ${keyFile} 2>&1`,
    'echo tried-proc; p=$$',
    'while [ "$p" -gt 1 ]; do cat /proc/$p/environ 2>&1 | tr "\\0" "\\n"; p=$(awk "{print \\$4}" /proc/$p/stat); done',
    'echo thief-done',
  ].join('\n')

/** Everything the job could have published: its output in the bundle and what the agent printed. */
async function published(jobId: string, r: { stdout: string; stderr: string }): Promise<string> {
  const dir = new Spool(dataDir).bundleDir(jobId)
  const logs = await Promise.all(
    ['stdout.log', 'stderr.log'].map((f) => readFile(join(dir, f), 'utf8').catch(() => '')),
  )
  return [...logs, r.stdout, r.stderr].join('\n')
}

function executorEnv(jobId: string, project: string, extra: NodeJS.ProcessEnv = {}) {
  return {
    BUILD_FAILURE_EXIT_CODE: '37',
    SYSTEM_FAILURE_EXIT_CODE: '38',
    CUSTOM_ENV_CI_COMMIT_SHA: commit,
    CUSTOM_ENV_CI_PROJECT_DIR: project,
    CUSTOM_ENV_CI_JOB_ID: String(Number.parseInt(jobId.slice(0, 8), 16) || 1),
    CUSTOM_ENV_ZKRUNNER_JOB_ID: jobId,
    CUSTOM_ENV_ZKRUNNER_SERVICE: service,
    CUSTOM_ENV_ZKRUNNER_USER: user,
    CUSTOM_ENV_ZKRUNNER_SOURCE_COMMITMENT: commit,
    ...extra,
  }
}

// Each test runs the real CLI several times (a Node start with the TypeScript loader each): slow
// on a loaded host.
/**
 * The job user runs `zkrunner-agent` from this checkout, as it would from an install it can reach,
 * so every directory above the checkout must let others pass (x, not r). A fresh clone under a
 * private temporary directory does not: the way is opened for a test and closed again after it
 * (the returned function).
 */
function openWayToCheckout(): () => void {
  const opened: { dir: string; mode: number }[] = []
  for (let dir = root.replace(/\/$/, ''); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777
    if ((mode & 0o001) === 0) {
      opened.push({ dir, mode })
      chmodSync(dir, mode | 0o001)
    }
    if (dir === dirname(dir)) break
  }
  return () => {
    for (const { dir, mode } of opened) chmodSync(dir, mode)
  }
}

describe("the runner's key stays with the runner", { timeout: 300_000 }, () => {
  it.skipIf(!asRoot)(
    'run: a job as jobUser cannot read the key through its environment, the key file or /proc/<agent pid>/environ',
    async () => {
      const jobId = randomBytes(16).toString('hex')
      // The key in the agent's environment too, as the local stack used to pass it.
      const r = await agent(
        ['run', '--job', jobId, ...JOB, '--', 'sh', '-c', THIEF(join(dataDir, KEY_FILE))],
        {
          ZKRUNNER_RUNNER_KEY: runnerKey,
          ZKRUNNER_JOB_USER: 'nobody',
        },
      )
      expect(r.code, r.stderr).toBe(0)
      const out = await published(jobId, r)
      expect(out).toContain('thief-done')
      expect(out).toMatch(/Permission denied/)
      expect(out).not.toContain(runnerKey)
      expect(r.stderr).toContain('the job runs as nobody')
      // The job still ran to a signed, reported result.
      expect((await new Spool(dataDir).state(jobId)).phase).toBe('queued')
    },
  )

  it.skipIf(!asRoot)(
    'executor run: neither the sampled step_script nor a plain stage can read the key',
    async () => {
      const jobId = randomBytes(16).toString('hex')
      const project = join(work, `project-${jobId}`)
      const scripts = await mkdtemp(join(base, 'scripts-'))
      // GitLab Runner's scripts sit in a directory only its user opens.
      await writeFile(join(scripts, 'step.sh'), THIEF(join(dataDir, KEY_FILE)), { mode: 0o700 })
      const gitlab = executorEnv(jobId, project, {
        ZKRUNNER_RUNNER_KEY: runnerKey,
        ZKRUNNER_JOB_USER: 'nobody',
        ZKRUNNER_BUILDS_DIR: join(base, 'builds'),
      })
      expect((await agent(['executor', 'prepare'], gitlab)).code).toBe(0)
      const plain = await agent(
        ['executor', 'run', join(scripts, 'step.sh'), 'prepare_script'],
        gitlab,
      )
      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stdout).toContain('thief-done')
      expect(plain.stdout).not.toContain(runnerKey)
      const step = await agent(['executor', 'run', join(scripts, 'step.sh'), 'step_script'], gitlab)
      expect(step.code, step.stderr).toBe(0)
      const out = await published(jobId, step)
      expect(out).toContain('thief-done')
      expect(out).not.toContain(runnerKey)
      // The job's own variables still reach it; the agent's configuration does not.
      expect(out).toContain(`ZKRUNNER_JOB_ID=${jobId}`)
      expect(out).not.toMatch(/ZKRUNNER_DATA_DIR|ZKRUNNER_WORKER_URL/)
    },
  )

  it.skipIf(!asRoot)(
    "executor run: a job's driver calls go to the agent, with the runner's budget, never the job's own",
    async () => {
      const closeWay = openWayToCheckout()
      onTestFinished(closeWay)
      const jobId = randomBytes(16).toString('hex')
      const project = join(work, `project-${jobId}`)
      const scripts = await mkdtemp(join(base, 'scripts-'))
      const call = `${NODE} ${CLI.join(' ')} call ${service}`
      // The job gives its own process a budget: as the job user it has no key, so all it could
      // do is sign nothing or ask the agent, whose budget (none here) decides. Then the socket
      // itself with a made-up token.
      await writeFile(
        join(scripts, 'step.sh'),
        [
          `ZKRUNNER_CALL_BUDGET_PER_JOB=1000000 ZKRUNNER_CALL_BUDGET_PER_SERVICE=1000000 ${call} 2>&1 | tail -1`,
          `${NODE} -e 'const s=require("node:net").createConnection(process.env.ZKRUNNER_SIGNER_SOCKET);s.on("connect",()=>s.write(JSON.stringify({v:1,op:"call",token:"${'0'.repeat(64)}",driver:"${service}",params:[],wait:false})+"\\n"));s.pipe(process.stdout)'`,
          'echo calls-done',
        ].join('\n'),
        { mode: 0o700 },
      )
      const gitlab = executorEnv(jobId, project, {
        ZKRUNNER_JOB_USER: 'nobody',
        ZKRUNNER_BUILDS_DIR: join(base, 'builds'),
      })
      expect((await agent(['executor', 'prepare'], gitlab)).code).toBe(0)
      const step = await agent(['executor', 'run', join(scripts, 'step.sh'), 'step_script'], gitlab)
      expect(step.code, step.stderr).toBe(0)
      const out = await published(jobId, step)
      expect(out).toContain('calls-done')
      expect(out).toContain(
        'CALL_BUDGET_EXHAUSTED: this runner has no call budget (callBudgetPerJob and callBudgetPerService)',
      )
      expect(out).toMatch(/"code":"CALL_REFUSED","message":"no job the signer is running holds/)
      expect((await agent(['executor', 'cleanup'], gitlab)).code).toBe(0)
    },
  )

  it('the key in the agent environment with a job of the same user: refused before the job runs', async () => {
    const marker = join(work, `ran-${randomBytes(4).toString('hex')}`)
    const r = await agent(['run', ...JOB, '--', 'sh', '-c', `touch ${marker}`], {
      ZKRUNNER_RUNNER_KEY: runnerKey,
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/INVALID_CONFIG.*\/proc\/<agent pid>\/environ/)
    expect(existsSync(marker)).toBe(false)
    const x = await agent(
      ['executor', 'run', '/bin/true', 'step_script'],
      executorEnv(randomBytes(16).toString('hex'), work, { ZKRUNNER_RUNNER_KEY: runnerKey }),
    )
    expect(x.code).toBe(38)
  })

  it("a job's environment is an allow-list: agent secrets never pass, CI variables and declared parameters do", async () => {
    const jobId = randomBytes(16).toString('hex')
    const r = await agent(['run', '--job', jobId, ...JOB, '--pass-env', 'LIMIT', '--', 'env'], {
      ZKRUNNER_FEE_PAYER_KEY: 'EKsecretfeepayer',
      AWS_SECRET_ACCESS_KEY: 'aws-secret',
      CI_JOB_ID: '77',
      LIMIT: '1000',
      MODE: 'fast',
      ZKRUNNER_PARAMETERS: JSON.stringify({ MODE: 'fast' }),
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).not.toMatch(/EKsecretfeepayer|aws-secret|ZKRUNNER_DATA_DIR/)
    expect(r.stdout).toMatch(/^CI_JOB_ID=77$/m)
    expect(r.stdout).toMatch(/^LIMIT=1000$/m)
    expect(r.stdout).toMatch(/^MODE=fast$/m)
    // Without a job user the agent says plainly that the key file is within the job's reach.
    expect(r.stderr).toMatch(/runs as the agent's own user .* could read the runner key/)
  })

  it('the key file and the data dir never sit under the builds dir or the job directory', async () => {
    const cfg = await agent(['executor', 'config'], { ZKRUNNER_BUILDS_DIR: base })
    expect(cfg.code).toBe(1)
    expect(cfg.stderr).toMatch(/INVALID_CONFIG: .*runner-key.json is inside/)
    const prep = await agent(['executor', 'prepare'], { ZKRUNNER_BUILDS_DIR: base })
    expect(prep.code).toBe(2)
    const marker = join(base, `ran-${randomBytes(4).toString('hex')}`)
    const r = await agent(['run', ...JOB, '--', 'sh', '-c', `touch ${marker}`], {}, { cwd: base })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/INVALID_CONFIG: .* is inside/)
    expect(existsSync(marker)).toBe(false)
    // The default builds dir is beside the data dir.
    expect(JSON.parse((await agent(['executor', 'config'])).stdout)).toMatchObject({
      builds_dir: `${dataDir}-builds`,
    })
  })

  it('the key file is 0600 and the data dirs 0700 from creation, whatever the umask', async () => {
    const fresh = join(base, 'fresh', 'data')
    const k = await agent(['keygen'], { ZKRUNNER_DATA_DIR: fresh }, { umask: '000' })
    expect(k.code, k.stderr).toBe(0)
    expect(statSync(join(base, 'fresh')).mode & 0o777).toBe(0o700)
    expect(statSync(fresh).mode & 0o777).toBe(0o700)
    expect(statSync(join(fresh, KEY_FILE)).mode & 0o777).toBe(0o600)
    const jobId = randomBytes(16).toString('hex')
    const r = await agent(
      ['run', '--job', jobId, ...JOB, '--', 'true'],
      { ZKRUNNER_DATA_DIR: fresh },
      { umask: '000' },
    )
    expect(r.code, r.stderr).toBe(0)
    const spool = new Spool(fresh)
    for (const d of [spool.root, spool.jobDir(jobId), spool.bundleDir(jobId)])
      expect((statSync(d).mode & 0o777).toString(8), d).toBe('700')
    expect(statSync(join(spool.jobDir(jobId), 'state.json')).mode & 0o777).toBe(0o600)
    // No window: the file is 0600 while its bytes are being written, before the rename.
    const target = join(base, 'durable.json')
    let modeWhileWriting = -1
    await writeDurable(
      target,
      (async function* () {
        yield new TextEncoder().encode('{"privateKey":')
        const tmp = (await readdir(base)).find((f) => f.startsWith('durable.json.'))!
        modeWhileWriting = (await stat(join(base, tmp))).mode & 0o777
        yield new TextEncoder().encode('"EK…"}')
      })(),
    )
    expect(modeWhileWriting.toString(8)).toBe('600')
  })

  it('a job id or ZKRUNNER_* value that is not valid is refused before anything is written', async () => {
    const escaped = join(base, 'escaped')
    const before = await new Spool(dataDir).list()
    const run = await agent(['run', '--job', '../../escaped', ...JOB, '--', 'true'])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/INVALID_CONFIG: ZKRUNNER_JOB_ID: must be 32 lower-case hex/)
    const viaEnv = await agent(['run', ...JOB, '--', 'true'], { ZKRUNNER_JOB_ID: '../../escaped' })
    expect(viaEnv.code).toBe(1)
    const exec = await agent(
      ['executor', 'run', '/bin/true', 'step_script'],
      executorEnv('../../escaped', work),
    )
    expect(exec.code).toBe(38)
    expect(exec.stderr).toMatch(/ZKRUNNER_JOB_ID/)
    for (const [name, value] of [
      ['CUSTOM_ENV_ZKRUNNER_SERVICE', 'not-a-key'],
      ['CUSTOM_ENV_ZKRUNNER_SOURCE_COMMITMENT', 'main'],
      ['CUSTOM_ENV_ZKRUNNER_VOUCHER', '{"v":1'],
      ['CUSTOM_ENV_ZKRUNNER_ARTIFACTS', '../../etc/shadow'],
    ] as const) {
      const r = await agent(
        ['executor', 'run', '/bin/true', 'step_script'],
        executorEnv(randomBytes(16).toString('hex'), work, { [name]: value }),
      )
      expect(r.code, name).toBe(38)
      expect(r.stderr, name).toMatch(new RegExp(name.replace('CUSTOM_ENV_', '')))
    }
    expect(existsSync(escaped)).toBe(false)
    expect(await new Spool(dataDir).list()).toEqual(before)
    expect(() => new Spool(dataDir).jobDir('../x')).toThrow(/not a job id/)
  })

  it('artifacts: a symlink in any component, a trailing slash onto a symlinked dir, or a FIFO are skipped and reported', async () => {
    const cwd = await mkdtemp(join(base, 'build-'))
    const bundle = await mkdtemp(join(base, 'bundle-'))
    await writeFile(join(cwd, 'ok.txt'), 'fine')
    await symlink(dataDir, join(cwd, 'keydir'))
    await symlink(join(dataDir, KEY_FILE), join(cwd, 'key.json'))
    await mkdir(join(cwd, 'out'))
    await writeFile(join(cwd, 'out', 'report.txt'), 'report')
    await symlink(join(dataDir, KEY_FILE), join(cwd, 'out', 'key.json'))
    await execFileP('mkfifo', [join(cwd, 'out', 'pipe')])
    const got = await collectArtifacts(
      cwd,
      ['ok.txt', 'keydir/', 'keydir', `keydir/${KEY_FILE}`, 'key.json', 'out/', 'gone', '../x'],
      bundle,
    )
    expect(got.copied.sort()).toEqual(['artifacts/ok.txt', 'artifacts/out/report.txt'])
    expect(got.skipped).toEqual([
      { path: 'keydir/', reason: 'symlink' },
      { path: 'keydir', reason: 'symlink' },
      { path: `keydir/${KEY_FILE}`, reason: 'symlink' },
      { path: 'key.json', reason: 'symlink' },
      { path: 'out/key.json', reason: 'symlink' },
      { path: 'out/pipe', reason: 'not-a-file' },
      { path: 'gone', reason: 'missing' },
      { path: '../x', reason: 'outside-build-dir' },
    ])
    const all = await readdir(bundle, { recursive: true })
    for (const f of all) {
      const p = join(bundle, f)
      if (statSync(p).isFile()) expect(await readFile(p, 'utf8')).not.toContain(runnerKey)
    }

    // Through the agent: the manifest and the log say what was left out.
    const jobId = randomBytes(16).toString('hex')
    const r = await agent(
      [
        'run',
        '--job',
        jobId,
        ...JOB,
        '--artifact',
        'ok.txt',
        '--artifact',
        'keydir/',
        '--',
        'true',
      ],
      {},
      { cwd },
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('artifact keydir/ skipped (symlink)')
    const manifest = JSON.parse(
      await readFile(join(new Spool(dataDir).bundleDir(jobId), 'manifest.json'), 'utf8'),
    ) as ResultManifest
    expect(manifest.skippedArtifacts).toEqual([{ path: 'keydir/', reason: 'symlink' }])
    expect(manifest.files.map((f) => f.path)).toContain('artifacts/ok.txt')
  })

  it('a commit that does not match the source commitment: the job never runs, says why, and is never charged', async () => {
    const jobId = randomBytes(16).toString('hex')
    const marker = join(work, `ran-${jobId}`)
    const r = await agent(['run', '--job', jobId, ...JOB, '--', 'sh', '-c', `touch ${marker}`], {
      CI_COMMIT_SHA: 'd'.repeat(40),
      ZKRUNNER_VOUCHER: voucher,
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /source mismatch: the service version commits to c{40} but the CI checked out d{40}/,
    )
    expect(existsSync(marker)).toBe(false)
    const spool = new Spool(dataDir)
    const state = await spool.state(jobId)
    expect(state.notRun).toBe('source-mismatch')
    const manifest = JSON.parse(
      await readFile(join(spool.bundleDir(jobId), 'manifest.json'), 'utf8'),
    ) as ResultManifest
    expect(manifest).toMatchObject({ notRun: 'source-mismatch', exitCode: null })
    // Reported (the user sees why) but out of every settlement batch.
    expect(reports.some((x) => x.url === `/v1/jobs/${jobId}/result`)).toBe(true)
    const paid = randomBytes(16).toString('hex')
    expect(
      (await agent(['run', '--job', paid, ...JOB, '--', 'true'], { ZKRUNNER_VOUCHER: voucher }))
        .code,
    ).toBe(0)
    const charged = (await pendingBatches(spool)).flatMap((b) => b.jobs.map((j) => j.jobId))
    expect(charged).toContain(paid)
    expect(charged).not.toContain(jobId)
    // GitHub's variable is checked the same way, in executor mode too.
    const gh = await agent(['run', ...JOB, '--', 'sh', '-c', `touch ${marker}`], {
      GITHUB_SHA: 'e'.repeat(40),
    })
    expect(gh.code).toBe(1)
    const x = await agent(
      ['executor', 'run', '/bin/true', 'step_script'],
      executorEnv(randomBytes(16).toString('hex'), work, {
        CUSTOM_ENV_CI_COMMIT_SHA: 'f'.repeat(40),
      }),
    )
    expect(x.code).toBe(37)
    expect(x.stderr).toMatch(/source mismatch/)
    expect(existsSync(marker)).toBe(false)
  })

  it("a job's leftover processes are killed before its artifacts are collected", async () => {
    const jobId = randomBytes(16).toString('hex')
    const pidFile = join(work, `leftover-${jobId}`)
    // The job ends at once, leaving a process behind that could rewrite the build directory
    // (swap an artifact for a symlink to the key) while the agent collects it.
    const r = await agent([
      'run',
      '--job',
      jobId,
      ...JOB,
      '--',
      'sh',
      '-c',
      `sleep 600 </dev/null >/dev/null 2>&1 & echo $! > ${pidFile}`,
    ])
    expect(r.code, r.stderr).toBe(0)
    const pid = Number(await readFile(pidFile, 'utf8'))
    expect(pid).toBeGreaterThan(1)
    let alive = true
    try {
      process.kill(pid, 0)
    } catch {
      alive = false
    }
    if (alive) process.kill(pid, 'SIGKILL')
    expect(alive).toBe(false)
  })

  it('the commit that ran is read from the checkout: a CI_COMMIT_SHA overridden to match the commitment does not hide another commit', async () => {
    // A checkout of some other commit than the one the service version commits to, with the
    // CI variable set (as a job or trigger variable can) to the committed value.
    const repo = join(work, `checkout-${randomBytes(8).toString('hex')}`)
    await mkdir(repo)
    await writeFile(join(repo, 'job.sh'), 'echo pushed later\n')
    const git = (...a: string[]) =>
      execFileP('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: repo })
    await git('init', '-q')
    await git('add', '.')
    await git('commit', '-qm', 'not the committed version')
    const head = (await git('rev-parse', 'HEAD')).stdout.trim()
    const tree = (await git('rev-parse', 'HEAD^{tree}')).stdout.trim()
    const marker = join(work, `ran-${randomBytes(8).toString('hex')}`)
    const r = await agent(
      ['run', ...JOB, '--', 'sh', '-c', `touch ${marker}`],
      { CI_COMMIT_SHA: commit, ZKRUNNER_VOUCHER: voucher },
      { cwd: repo },
    )
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `source mismatch: the service version commits to ${commit} but the CI checked out ${head}`,
    )
    expect(existsSync(marker)).toBe(false)
    // The same in executor mode: CI_PROJECT_DIR is read, not CUSTOM_ENV_CI_COMMIT_SHA.
    const x = await agent(
      ['executor', 'run', '/bin/true', 'step_script'],
      executorEnv(randomBytes(16).toString('hex'), repo),
    )
    expect(x.code).toBe(37)
    expect(x.stderr).toContain(`but the CI checked out ${head}`)
    // A commitment to the checked-out commit, or to its tree, runs whatever the variable says.
    for (const c of [head, tree]) {
      const ok = await agent(
        ['run', '--service', service, '--user', user, '--source-commitment', c, '--', 'true'],
        { CI_COMMIT_SHA: 'd'.repeat(40) },
        { cwd: repo },
      )
      expect(ok.code, ok.stderr).toBe(0)
    }
  })

  it('result reports: signed over service, job, bundle and digest; a genuine one does not verify for another job; a 409 is a conflict, not success', async () => {
    const jobId = randomBytes(16).toString('hex')
    const r = await agent(['run', '--job', jobId, ...JOB, '--', 'true'])
    expect(r.code, r.stderr).toBe(0)
    const sent = reports.find((x) => x.url === `/v1/jobs/${jobId}/result`)!
    expect(sent, r.stderr).toBeDefined()
    const parsed = parseResultReport(sent.body)
    expect(parsed.ok).toBe(true)
    if (!parsed.ok) return
    expect(verifyResultReport(parsed.value, service).ok).toBe(true)
    const other = randomBytes(16).toString('hex')
    expect(verifyResultReport({ ...parsed.value, jobId: other }, service).ok).toBe(false)
    expect(verifyResultReport(parsed.value, generateMinaKeyPair().publicKey).ok).toBe(false)
    const resigned = signResultReport({ ...parsed.value, service, jobId: other }, runnerKey)
    expect(resigned).not.toBe(parsed.value.signature)

    conflicting.add(other)
    const c = await agent(['run', '--job', other, ...JOB, '--', 'true'])
    expect(c.stderr).toMatch(/ALERT: REPORT_CONFLICT/)
    const state = await new Spool(dataDir).state(other)
    expect(state.phase).toBe('pinned')
    expect(state.reportConflict).toMatch(/different result/)
    const metrics = new JobMetrics(other)
    metrics.reportConflict()
    expect(await metrics.registry.metrics()).toMatch(
      new RegExp(`zkrunner_report_conflicts_total\\{job_id="${other}"\\} 1`),
    )
  })
})

// `zkrunner-agent run` called by the job's own user (a GitHub `run:` shell, a GitLab shell
// executor): that user's processes must hold no key, so `run --signer` asks the signer (root)
// to run the job as jobUser and sign what it observed. The caller here is `nobody`, as the job's
// whole CI script would be.
describe.skipIf(!asRoot)(
  'run through the signer: the job user holds no key',
  { timeout: 300_000 },
  () => {
    const NOBODY = { uid: 65534, gid: 65534 }
    /** This runner as GitHub names it: the signer binds jobs to it. */
    const RUNNER = 'zkrunner-runner-under-test'
    let github: GithubStandin
    /** The commit the repository's runs are dispatched at (GITHUB_SHA), when a test sets one. */
    let repoSha: string | undefined
    /** The signer's provider settings (a read token; never the job's). */
    let providerEnv: NodeJS.ProcessEnv
    /** What each dispatched job's run does on the runner, by job id. */
    const steps = new Map<string, (ctx: RunJobContext) => Promise<void>>()
    /** The one private service opening the signer's own config holds. */
    const SIGNER_OPENING = {
      salt: 'ab'.repeat(31),
      providerUrl: 'https://gitlab.example.com',
      project: 'acme/private',
    }
    let signer: ChildProcess
    let signerPid: number
    let socketPath: string
    /** The job user's build directory. */
    let jobDir: string

    let closeWay: () => void = () => {}

    beforeAll(async () => {
      closeWay = openWayToCheckout()
      const runDir = join(base, 'run')
      await mkdir(runDir, { mode: 0o755 })
      socketPath = join(runDir, 'signer.sock')
      jobDir = join(base, 'job-home')
      await mkdir(jobDir)
      await chown(jobDir, NOBODY.uid, NOBODY.gid)
      // GitHub, with this runner as its one self-hosted runner: one job at a time, the others
      // queued. Each run's job is whatever the test gave for its job id (`startRun`).
      github = await startGithubStandin({
        runnerName: RUNNER,
        runnerSlots: 1,
        repos: [
          {
            owner: REPO.owner,
            name: REPO.name,
            tokens: [REPO.token],
            // The commit its runs name (GITHUB_SHA); a test whose run checks out sets its own.
            get sha() {
              return repoSha
            },
            workflows: [
              {
                id: 7,
                file: REPO.workflow,
                name: 'zkrunner',
                runName: `zkrunner \${{ inputs.ZKRUNNER_JOB_ID }}`,
                inputs: {
                  ZKRUNNER_JOB_ID: { required: true },
                  // A run whose hooks and steps are the real ones reads its identity from these.
                  ZKRUNNER_SERVICE: {},
                  ZKRUNNER_USER: {},
                  ZKRUNNER_SOURCE_COMMITMENT: {},
                },
                jobName: 'test',
              },
            ],
          },
        ],
        runJob: async (ctx) => {
          const { run } = ctx
          const jobId = run.inputs.ZKRUNNER_JOB_ID!
          const held = workerJobs.get(jobId)
          if (held) {
            held.status = 'running'
            held.pipeline ??= { id: String(run.id), projectId: null, webUrl: null }
          }
          await steps.get(jobId)?.(ctx)
          return { conclusion: 'success' }
        },
      })
      providerEnv = {
        ZKRUNNER_PROVIDER: 'github',
        ZKRUNNER_PROVIDER_API_URL: github.url,
        ZKRUNNER_PROVIDER_TOKEN: REPO.token,
        ZKRUNNER_RUNNER_NAME: RUNNER,
        ZKRUNNER_SERVED_PROJECTS: `${REPO.owner}/${REPO.name}`,
      }
      // The key in the signer's environment as well: the job must not reach it there either.
      signer = spawn(NODE, [...CLI, 'signer', '--socket', socketPath], {
        env: env({
          ZKRUNNER_JOB_USER: 'nobody',
          ZKRUNNER_RUNNER_KEY: runnerKey,
          ZKRUNNER_PRIVATE_SOURCES: JSON.stringify([SIGNER_OPENING]),
          ...providerEnv,
        }),
        cwd: base,
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      signerPid = signer.pid!
      let log = ''
      await new Promise<void>((resolve, reject) => {
        signer.stderr!.on('data', (b: Buffer) => {
          log += b.toString()
          if (log.includes('listening on')) resolve()
        })
        signer.once('exit', (c) => reject(new Error(`signer exited ${c}: ${log}`)))
      })
    })
    afterAll(async () => {
      signer?.kill('SIGTERM')
      closeWay()
      await github?.close()
    })

    /**
     * Dispatches `jobId` as the Worker does (the Worker records it, GitHub creates its run) and
     * runs `during` as the run's steps once this runner picks the job up. `runId` resolves when
     * the run exists (it may still wait for the runner), `result` when the steps are done.
     */
    function startRun<T>(
      jobId: string,
      during: (ctx: RunJobContext) => Promise<T>,
      held: Partial<HeldJob> = {},
      inputs: Record<string, string> = {},
    ): { runId: Promise<string>; result: Promise<T> } {
      workerJobs.set(jobId, {
        jobId,
        service,
        user,
        status: 'triggered',
        createdAt: new Date().toISOString(),
        pipeline: null,
        history: [],
        result: null,
        ...held,
      })
      const result = new Promise<T>((resolve, reject) =>
        steps.set(jobId, (ctx) => during(ctx).then(resolve, reject)),
      )
      const runId = fetch(
        `${github.url}/repos/${REPO.owner}/${REPO.name}/actions/workflows/${REPO.workflow}/dispatches`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${REPO.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            ref: 'main',
            inputs: { ZKRUNNER_JOB_ID: jobId, ...inputs },
            return_run_details: true,
          }),
        },
      )
        .then((r) => r.json() as Promise<{ workflow_run_id: number }>)
        .then(({ workflow_run_id }) => {
          // The Worker records the run GitHub named in its answer.
          const id = String(workflow_run_id)
          workerJobs.get(jobId)!.pipeline = { id, projectId: null, webUrl: null }
          return id
        })
      return { runId, result }
    }
    /** `during` as the steps of a dispatched job's run on this runner. */
    const inRun = <T>(jobId: string, during: () => Promise<T>) => startRun(jobId, during).result

    /** Runs `args` as the job user (nobody) with a CI-like environment that holds no key. */
    async function asJobUser(
      file: string,
      args: string[],
      extra: NodeJS.ProcessEnv = {},
      who = NOBODY,
    ): Promise<{ code: number; stdout: string; stderr: string }> {
      try {
        const r = await execFileP(file, args, {
          ...who,
          cwd: jobDir,
          env: {
            PATH: process.env.PATH,
            HOME: jobDir,
            CI: 'true',
            CI_JOB_ID: '42',
            ZKRUNNER_SIGNER_SOCKET: socketPath,
            ZKRUNNER_METRICS_LISTEN: '',
            ...extra,
          },
        })
        return { code: 0, stdout: r.stdout, stderr: r.stderr }
      } catch (e) {
        const err = e as { code: number; stdout: string; stderr: string }
        return { code: err.code, stdout: err.stdout, stderr: err.stderr }
      }
    }

    /** Sends raw lines to the signer as the job user and returns what it answers. */
    const ask = (lines: string, who = NOBODY) =>
      asJobUser(
        NODE,
        [
          '-e',
          `const s=require('node:net').createConnection(${JSON.stringify(socketPath)});
         s.on('error',e=>{console.log('connect-error',e.code);process.exit(0)});
         s.on('connect',()=>s.write(${JSON.stringify(lines)}));
         s.pipe(process.stdout)`,
        ],
        {},
        who,
      )

    it('a normal run: output, exit code and artifacts come back, and the bundle is signed by the runner key and reported', async () => {
      const jobId = randomBytes(16).toString('hex')
      const r = await inRun(jobId, () =>
        asJobUser(NODE, [
          ...CLI,
          'run',
          '--job',
          jobId,
          ...JOB,
          '--artifact',
          'out.txt',
          '--',
          'sh',
          '-c',
          'id -u; echo built > out.txt; exit 3',
        ]),
      )
      expect(r.code, r.stderr).toBe(3)
      const spool = new Spool(dataDir)
      const state = await spool.state(jobId)
      expect(state.phase).toBe('queued')
      // The job ran as nobody, and its output came back to the caller, then the bundle's CID.
      expect(r.stdout).toBe(`65534\n${state.bundleCid}\n`)
      const { manifest, signature } = await readSealed(spool.bundleDir(jobId))
      expect(verifyManifest(manifest, signature).ok).toBe(true)
      expect(manifest).toMatchObject({ jobId, service, user, exitCode: 3 })
      // The manifest says how the job ran: by the signer, and the command the job's user chose.
      expect(manifest.ran).toEqual({
        mode: 'signer',
        command: ['sh', '-c', 'id -u; echo built > out.txt; exit 3'],
      })
      expect(manifest.files.map((f) => f.path)).toContain('artifacts/out.txt')
      expect(await readFile(join(spool.bundleDir(jobId), 'artifacts', 'out.txt'), 'utf8')).toBe(
        'built\n',
      )
      expect(reports.some((x) => x.url === `/v1/jobs/${jobId}/result`)).toBe(true)
    })

    /** `zkrunner-agent run` as the job user, for `jobId` (its variables name it, as a job's can). */
    const runAs = (jobId: string, script: string, flags: string[] = JOB) =>
      asJobUser(NODE, [...CLI, 'run', '--job', jobId, ...flags, '--', 'sh', '-c', script])
    const spooled = (jobId: string) => existsSync(new Spool(dataDir).jobDir(jobId))

    it("a job cannot have another job's result signed: job A naming pending job B's id while A runs is refused, nothing is spooled, and B's own run is signed later", async () => {
      const a = randomBytes(16).toString('hex')
      const b = randomBytes(16).toString('hex')
      let bRun: { runId: Promise<string>; result: Promise<Awaited<ReturnType<typeof runAs>>> }
      const inA = await inRun(a, async () => {
        // B is dispatched (its run name, `zkrunner <B>`, is public) and waits for this runner.
        bRun = startRun(b, () => runAs(b, 'echo real-b'))
        const bRunId = await bRun.runId
        // A's code asks the signer for B: a made-up result under B's id and identity.
        const forged = await runAs(b, 'echo passed')
        // The same with B's variables in the environment instead of flags.
        const viaVars = await asJobUser(NODE, [...CLI, 'run', '--', 'sh', '-c', 'echo passed'], {
          ZKRUNNER_JOB_ID: b,
          ZKRUNNER_SERVICE: service,
          ZKRUNNER_USER: user,
          ZKRUNNER_SOURCE_COMMITMENT: commit,
        })
        const own = await runAs(a, 'echo own-a')
        return { bRunId, forged, viaVars, own }
      })
      for (const r of [inA.forged, inA.viaVars]) {
        expect(r.code).toBe(1)
        expect(r.stderr).toContain(
          `SIGNER_REFUSED: job ${b}: GitHub's run ${inA.bRunId} has no job in progress on runner ${RUNNER}; nothing was run or signed`,
        )
        expect(r.stdout).not.toContain('passed')
      }
      expect(reports.some((x) => x.url === `/v1/jobs/${b}/result`)).toBe(false)
      // A asking for itself is signed as before.
      expect(inA.own.code, inA.own.stderr).toBe(0)
      expect(await readFile(join(new Spool(dataDir).bundleDir(a), 'stdout.log'), 'utf8')).toBe(
        'own-a\n',
      )
      // B was never spooled, so its real run is signed once the runner takes it.
      const real = await bRun!.result
      expect(real.code, real.stderr).toBe(0)
      const { manifest, signature } = await readSealed(new Spool(dataDir).bundleDir(b))
      expect(manifest).toMatchObject({ jobId: b, service, user, exitCode: 0 })
      expect(verifyManifest(manifest, signature).ok).toBe(true)
      expect(await readFile(join(new Spool(dataDir).bundleDir(b), 'stdout.log'), 'utf8')).toBe(
        'real-b\n',
      )
      // And once B has its result, not even B's own run gets a second one signed (refused from
      // the signer's own spool, before any Worker or provider read).
      workerJobs.get(b)!.status = 'running'
      const again = await inRun(randomBytes(16).toString('hex'), () => runAs(b, 'echo again'))
      expect(again.stderr).toMatch(
        /SIGNER_REFUSED: .*(already spooled|already holds its result|no job in progress)/,
      )
    })

    it('the signer refuses a job id the Worker never dispatched, or dispatched for another service or user, and spools nothing', async () => {
      const a = randomBytes(16).toString('hex')
      const never = randomBytes(16).toString('hex')
      const other = randomBytes(16).toString('hex')
      const stranger = generateMinaKeyPair().publicKey
      // Dispatched for another user (held, not run): A names it as its own user's.
      workerJobs.set(other, {
        jobId: other,
        service,
        user: stranger,
        status: 'running',
        createdAt: new Date().toISOString(),
        pipeline: null,
        history: [],
        result: null,
      })
      const r = await inRun(a, async () => ({
        never: await runAs(never, 'echo passed'),
        other: await runAs(other, 'echo passed'),
        // Without a job id `run` names a fresh one: the Worker never dispatched that either.
        fresh: await asJobUser(NODE, [...CLI, 'run', ...JOB, '--', 'echo', 'passed']),
      }))
      expect(r.never.stderr).toContain(
        `SIGNER_REFUSED: job ${never}: the Worker never dispatched it (404)`,
      )
      expect(r.other.stderr).toContain(
        `SIGNER_REFUSED: job ${other}: the Worker dispatched it for another service or user`,
      )
      expect(r.fresh.stderr).toMatch(
        /SIGNER_REFUSED: job [0-9a-f]{32}: the Worker never dispatched it/,
      )
      for (const x of [r.never, r.other, r.fresh]) {
        expect(x.code).toBe(1)
        expect(x.stdout).not.toContain('passed')
      }
      expect(spooled(never)).toBe(false)
      expect(spooled(other)).toBe(false)
    })

    it('the signer fails closed: a Worker or provider that is down or answers garbage gets the job refused with the reason, nothing spooled, and the job can still run', async () => {
      const a = randomBytes(16).toString('hex')
      const r = await inRun(a, async () => {
        workerReads = 'down'
        const workerDown = await runAs(a, 'echo passed')
        workerReads = 'garbage'
        const workerGarbage = await runAs(a, 'echo passed')
        workerReads = 'up'
        github.setFaults({ read: [{ status: 503 }] })
        const githubDown = await runAs(a, 'echo passed')
        const before = spooled(a)
        const fine = await runAs(a, 'echo fine')
        return { workerDown, workerGarbage, githubDown, before, fine }
      }).finally(() => {
        workerReads = 'up'
        github.setFaults({})
      })
      const refused = (x: { code: number; stderr: string; stdout: string }, why: RegExp) => {
        expect(x.code).toBe(1)
        expect(x.stdout).not.toContain('passed')
        expect(x.stderr).toMatch(why)
      }
      refused(
        r.workerDown,
        /SIGNER_REFUSED: job [0-9a-f]{32}: the Worker did not answer for it \(HTTP 503\)/,
      )
      refused(
        r.workerGarbage,
        /SIGNER_REFUSED: .*the Worker's answer for \/v1\/jobs\/[0-9a-f]{32} is unreadable/,
      )
      refused(r.githubDown, /SIGNER_REFUSED: .*GitHub did not answer for run \d+ \(HTTP 503\)/)
      expect(r.before).toBe(false)
      expect(r.fine.code, r.fine.stderr).toBe(0)
      expect(await readFile(join(new Spool(dataDir).bundleDir(a), 'stdout.log'), 'utf8')).toBe(
        'fine\n',
      )
    })

    it('the signer skips the checkout read only for a not-run source mismatch: a job that would run with readCheckout false is refused', async () => {
      const a = randomBytes(16).toString('hex')
      const request = (vars: Record<string, string>) =>
        `${JSON.stringify({
          v: 1,
          op: 'run',
          command: 'sh',
          args: ['-c', 'echo passed'],
          cwd: jobDir,
          vars: { ZKRUNNER_JOB_ID: a, ZKRUNNER_SERVICE: service, ZKRUNNER_USER: user, ...vars },
          options: { sourceCommitment: commit, artifacts: [], passEnv: [], readCheckout: false },
        })}\n`
      const r = await inRun(a, () => ask(request({ GITHUB_SHA: commit })))
      expect(r.stdout).toMatch(
        /"t":"error","code":"SIGNER_REFUSED","message":"readCheckout: false is only for a source mismatch/,
      )
      expect(r.stdout).not.toMatch(/"t":"exit"/)
      expect(spooled(a)).toBe(false)
    })

    it("neither the job nor the rest of its user's CI script can read the key: environment, key file, /proc/<signer pid>/environ and mem", async () => {
      const keyFile = join(dataDir, KEY_FILE)
      const thief = [
        THIEF(keyFile),
        `echo tried-signer; cat /proc/${signerPid}/environ 2>&1 | tr "\\0" "\\n"`,
        `dd if=/proc/${signerPid}/mem of=/dev/null bs=4096 count=1 skip=1024 2>&1`,
        `cat /proc/${signerPid}/root${keyFile} 2>&1`,
        `ls /proc/${signerPid}/fd 2>&1`,
        'echo thief-really-done',
      ].join('\n')
      // As the job the signer runs...
      const jobId = randomBytes(16).toString('hex')
      const r = await inRun(jobId, () =>
        asJobUser(NODE, [...CLI, 'run', '--job', jobId, ...JOB, '--', 'sh', '-c', thief]),
      )
      expect(r.code, r.stderr).toBe(0)
      const out = await published(jobId, r)
      expect(out).toContain('thief-really-done')
      expect(out).toMatch(/environ: Permission denied/)
      expect(out).toMatch(/mem'?: Permission denied/)
      expect(out).not.toMatch(/records in/)
      expect(out).not.toContain(runnerKey)
      // ... and as the CI script around it, which runs as the same user outside the signer.
      const direct = await asJobUser('/bin/sh', ['-c', thief])
      expect(direct.stdout).toContain('thief-really-done')
      expect(`${direct.stdout}${direct.stderr}`).not.toContain(runnerKey)
    })

    it("driver calls go through the signer: the job holds no key, spends only its own budget by the signer's ledger, and cannot call for another job, with a made-up token or after it ended", async () => {
      // A signer whose calls stop at the voucher: the real ledger in the signer's data dir
      // reserves one price per call within a budget of one call per job, before anything is
      // signed (`signed` counts what would be).
      const PRICE = 5n
      const signed: OuterJob[] = []
      const callSocket = join(dirname(socketPath), 'signer-calls.sock')
      const config = loadConfig(
        {},
        env({ ZKRUNNER_JOB_USER: 'nobody', ZKRUNNER_RUNNER_KEY: runnerKey, ...providerEnv }),
      )
      const calls = await startSigner(
        config,
        jobIsolation('nobody'),
        callSocket,
        () => {},
        async (o) => {
          const requestId = newRequestId()
          const spent = await fileCallLedger(config.dataDir).spent(o.jobId)
          await fileCallLedger(config.dataDir).reserve(
            o.jobId,
            { requestId, price: PRICE, cumulativeAmount: spent + PRICE },
            { perJob: PRICE, perService: 1000n },
            async () => {
              signed.push(o)
            },
          )
          return {
            jobId: requestId,
            request: {} as CallResult['request'],
            cumulativeAmount: String(spent + PRICE),
          }
        },
      )
      onTestFinished(() => calls.close())
      const jobId = randomBytes(16).toString('hex')
      const other = randomBytes(16).toString('hex')
      const agentCall = `${NODE} ${CLI.join(' ')} call ${service}`
      const tokenFile = join(jobDir, `token-${jobId}`)
      // The job's own code: `call` twice (the budget holds one), then the socket itself with a
      // made-up token, then `call` without the signer (in its own process, as on a runner
      // without one), then it keeps its token for later.
      const script = [
        `${agentCall} >/dev/null 2>&1; echo "first=$?"`,
        `${agentCall} 2>&1 | tail -1; echo "second"`,
        `${NODE} -e 'const s=require("node:net").createConnection(process.env.ZKRUNNER_SIGNER_SOCKET);s.on("connect",()=>s.write(JSON.stringify({v:1,op:"call",token:"${'0'.repeat(64)}",driver:"${service}",params:[],wait:false})+"\\n"));s.pipe(process.stdout)'`,
        `env -u ZKRUNNER_SIGNER_SOCKET ZKRUNNER_JOB_ID=${other} ZKRUNNER_CALL_BUDGET_PER_JOB=1000000 ZKRUNNER_CALL_BUDGET_PER_SERVICE=1000000 ${agentCall} 2>&1 | tail -1; echo "direct"`,
        `echo "$ZKRUNNER_CALL_TOKEN" > ${tokenFile}`,
      ].join('\n')
      const r = await inRun(jobId, () =>
        asJobUser(NODE, [...CLI, 'run', '--job', jobId, ...JOB, '--', 'sh', '-c', script], {
          ZKRUNNER_SIGNER_SOCKET: callSocket,
        }),
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('first=0')
      expect(r.stdout).toMatch(
        /CALL_BUDGET_EXHAUSTED: this job has spent 5 of its 5 credit budget[^\n]*\nsecond/,
      )
      expect(r.stdout).toMatch(
        /"code":"CALL_REFUSED","message":"no job the signer is running holds this call token/,
      )
      // Without the signer the job's process would need the key, which it cannot read.
      expect(r.stdout).toMatch(/zkrunner-agent: [A-Z_]+: [^\n]*\ndirect/)
      // One voucher in all, for the job the signer ran, by its own record.
      expect(signed).toEqual([{ jobId, service }])
      expect(await fileCallLedger(config.dataDir).spent(jobId)).toBe(PRICE)
      expect(await fileCallLedger(config.dataDir).spent(other)).toBe(0n)
      // The job has ended: its token calls for nobody.
      const token = (await readFile(tokenFile, 'utf8')).trim()
      expect(token).toMatch(/^[0-9a-f]{64}$/)
      const late = await asJobUser(NODE, [...CLI, 'call', service], {
        ZKRUNNER_SIGNER_SOCKET: callSocket,
        ZKRUNNER_CALL_TOKEN: token,
      })
      expect(late.code).not.toBe(0)
      expect(late.stderr).toMatch(/CALL_REFUSED|no job the signer is running holds this call token/)
      expect(signed).toHaveLength(1)
    })

    it('the socket signs nothing it did not observe: arbitrary bytes, a manifest or an exit code offered by the caller are refused', async () => {
      const before = (await new Spool(dataDir).list()).length
      const sign = await ask(`${JSON.stringify({ v: 1, op: 'sign', bytes: 'aGVsbG8=' })}\n`)
      expect(sign.stdout).toMatch(/"t":"error","code":"SIGNER_REFUSED"/)
      const request = {
        v: 1,
        op: 'run',
        command: 'true',
        args: [],
        cwd: jobDir,
        vars: { ZKRUNNER_SERVICE: service, ZKRUNNER_USER: user },
        options: { sourceCommitment: commit, artifacts: [], passEnv: [] },
      }
      for (const smuggled of [
        { manifest: { exitCode: 0 } },
        { exitCode: 0 },
        { samples: '{}' },
        { digest: 'ab'.repeat(32) },
      ]) {
        const x = await ask(`${JSON.stringify({ ...request, ...smuggled })}\n`)
        expect(x.stdout, JSON.stringify(smuggled)).toMatch(/"t":"error","code":"SIGNER_REFUSED"/)
        expect(x.stdout).not.toMatch(/"t":"exit"/)
      }
      expect(
        (
          await ask(
            `${JSON.stringify({ ...request, options: { ...request.options, stdout: 'x' } })}\n`,
          )
        ).stdout,
      ).toMatch(/SIGNER_REFUSED/)
      expect((await ask('not json\n')).stdout).toMatch(/SIGNER_REFUSED/)
      // Nothing was spooled, so nothing was signed.
      expect((await new Spool(dataDir).list()).length).toBe(before)
      // A user other than the job user's group cannot even connect.
      const stranger = await ask(`${JSON.stringify(request)}\n`, { uid: 1, gid: 1 })
      expect(stranger.stdout).toMatch(/connect-error EACCES/)
    })

    it('a job user cannot hold the signer with idle connections: a request line not sent in time is cut, and connections beyond the limit are closed at once', async () => {
      // Opens the limit's worth of idle connections plus one, sends nothing, and reports, per
      // connection, whether the signer closed it and when (ms).
      const r = await asJobUser(NODE, [
        '-e',
        `const net=require('node:net');const t0=Date.now();const out=[];let open=${MAX_SIGNER_CONNECTIONS + 1};
         for(let i=0;i<${MAX_SIGNER_CONNECTIONS + 1};i++){const s=net.createConnection(${JSON.stringify(socketPath)});
           s.on('error',()=>{});s.on('close',()=>{out.push(Date.now()-t0);if(--open===0){console.log(JSON.stringify(out.sort((a,b)=>a-b)));process.exit(0)}});
           s.write('{"op":"run"')}`,
      ])
      const closedAfter = JSON.parse(r.stdout) as number[]
      expect(closedAfter).toHaveLength(MAX_SIGNER_CONNECTIONS + 1)
      // The one over the limit went at once; the others when their request time ran out.
      expect(closedAfter[0]).toBeLessThan(SIGNER_REQUEST_TIMEOUT_MS / 2)
      expect(closedAfter[1]).toBeGreaterThanOrEqual(SIGNER_REQUEST_TIMEOUT_MS - 500)
      // And the signer still answers a whole request afterwards (here refusing an unknown one).
      const after = await ask('{"op":"nope"}\n')
      expect(after.stdout).toMatch(/"t":"error"/)
    })

    it('attack: a job user cannot hold the signer by keeping refused connections half-open (every later job would be closed at once)', async () => {
      // The limit's worth of connections, each sending a whole (refused) request and keeping its
      // own side open once the signer has answered; then one more asks for a status.
      const r = await asJobUser(NODE, [
        '-e',
        `const net=require('node:net');const p=${JSON.stringify(socketPath)};let answered=0;
         for(let i=0;i<${MAX_SIGNER_CONNECTIONS};i++){const s=net.createConnection({path:p,allowHalfOpen:true});
           s.on('error',()=>{});s.write('{"op":"nope"}\\n');
           s.once('data',()=>{if(++answered===${MAX_SIGNER_CONNECTIONS})after()})}
         function after(){const s=net.createConnection(p);let got='';s.on('error',()=>{});
           s.on('data',(d)=>{got+=d});s.on('close',()=>{console.log(got.includes('"t":"status"')?'answered':'closed');process.exit(0)});
           s.write(JSON.stringify({v:1,op:'status',jobId:'${'0'.repeat(32)}'})+'\\n')}`,
      ])
      // Before the fix: 'closed' — the request timeout was off once the line is in, and the signer only
      // ends its side, so each refused connection stays counted until the caller closes it.
      expect(r.stdout.trim()).toBe('answered')
    })

    it('the signer refuses a socket directory others may write (a job could listen in its place)', async () => {
      const shared = join(base, 'shared-run')
      await mkdir(shared)
      await chmod(shared, 0o1777)
      const r = await agent(['signer', '--socket', join(shared, 'signer.sock')], {
        ZKRUNNER_JOB_USER: 'nobody',
        ...providerEnv,
      })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/INVALID_CONFIG: .*shared-run must be the signer's own directory/)
      expect(existsSync(join(shared, 'signer.sock'))).toBe(false)
    })

    it("the signer refuses a socket directory under one the job user may write (it could swap the socket's directory)", async () => {
      // The socket's own directory is root's and closed, but its parent is the job user's.
      const theirs = join(base, 'job-owned')
      await mkdir(join(theirs, 'run'), { recursive: true, mode: 0o755 })
      await chown(theirs, NOBODY.uid, NOBODY.gid)
      const r = await agent(['signer', '--socket', join(theirs, 'run', 'signer.sock')], {
        ZKRUNNER_JOB_USER: 'nobody',
        ...providerEnv,
      })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(
        /INVALID_CONFIG: .*job-owned \(above the socket .*\) may be written by others/,
      )
      expect(existsSync(join(theirs, 'run', 'signer.sock'))).toBe(false)
    })

    it("a GitHub runner of the job's own user: hooks and step go through the signer, never the key", async () => {
      /** A dispatch event file as the runner writes it (the job user's), and a step's variables. */
      const github = async (jobId: string, extra: NodeJS.ProcessEnv = {}) => {
        const eventPath = join(jobDir, `event-${jobId}.json`)
        await writeFile(
          eventPath,
          JSON.stringify({
            inputs: {
              ZKRUNNER_JOB_ID: jobId,
              ZKRUNNER_SERVICE: service,
              ZKRUNNER_USER: user,
              ZKRUNNER_SOURCE_COMMITMENT: commit,
            },
            ref: 'refs/heads/main',
            workflow: 'z.yml',
          }),
        )
        await chown(eventPath, NOBODY.uid, NOBODY.gid)
        return {
          GITHUB_ACTIONS: 'true',
          GITHUB_EVENT_NAME: 'workflow_dispatch',
          GITHUB_EVENT_PATH: eventPath,
          GITHUB_SHA: commit,
          GITHUB_WORKSPACE: jobDir,
          ...extra,
        }
      }
      const hook = (when: string, vars: NodeJS.ProcessEnv) =>
        asJobUser(NODE, [...CLI, 'github', 'hook', when], vars)
      const spool = new Spool(dataDir)
      const lastLine = (t: string) => t.trim().split('\n').at(-1)

      // A push moved the branch: `started` has the signer sign the not-run result, no step runs.
      const moved = randomBytes(16).toString('hex')
      const mismatched = await github(moved, { GITHUB_SHA: 'b'.repeat(40) })
      const [started, done] = await inRun(moved, async () => [
        await hook('started', mismatched),
        await hook('completed', mismatched),
      ])
      expect(started!.code).toBe(1)
      expect(started!.stderr).toMatch(/source mismatch/)
      const { manifest, signature } = await readSealed(spool.bundleDir(moved))
      expect(manifest).toMatchObject({ jobId: moved, notRun: 'source-mismatch' })
      expect(verifyManifest(manifest, signature).ok).toBe(true)
      expect(done!.code, done!.stderr).toBe(0)
      expect(lastLine(done!.stdout)).toBe((await spool.state(moved)).bundleCid)

      // The commit matches: `started` passes without reading the key, the step runs through the
      // signer, and `completed` finds its result in the signer's spool.
      const fine = randomBytes(16).toString('hex')
      const vars = await github(fine)
      const [ok, step, finished] = await inRun(fine, async () => [
        await hook('started', vars),
        await asJobUser(NODE, [...CLI, 'run', '--', 'sh', '-c', 'echo step'], vars),
        await hook('completed', vars),
      ])
      expect(ok!.code, ok!.stderr).toBe(0)
      expect(step!.code, step!.stderr).toBe(0)
      expect(finished!.code, finished!.stderr).toBe(0)
      expect(lastLine(finished.stdout)).toBe((await spool.state(fine)).bundleCid)
      expect(await readFile(join(spool.bundleDir(fine), 'stdout.log'), 'utf8')).toBe('step\n')

      // A job no step ran under the agent does not end green.
      const skipped = await github(randomBytes(16).toString('hex'))
      expect((await hook('started', skipped)).code).toBe(0)
      const none = await hook('completed', skipped)
      expect(none.code).toBe(1)
      expect(none.stderr).toMatch(/ALERT: zkrunner job [0-9a-f]{32} ended without a result/)
    })

    it("the local stack's GitHub runner: the job runs as the job user through the stack's signer, cannot read the key (environment, key file, /proc of the signer and of the stack), leaves nothing running, and still gets a signed bundle", async () => {
      // The sample's repository as the stand-in's runner checks it out; its commit is the
      // service's source commitment.
      const src = join(base, 'gh-source')
      await mkdir(src)
      await writeFile(join(src, 'README'), 'sample\n')
      const git = (...args: string[]) =>
        execFileP('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-C', src, ...args])
      await git('init', '-q')
      await git('add', '.')
      await git('commit', '-qm', 'sample')
      const sha = (await git('rev-parse', 'HEAD')).stdout.trim()
      serviceCommitment = sha
      repoSha = sha
      onTestFinished(() => {
        serviceCommitment = commit
        repoSha = undefined
      })
      // `zkrunner-agent` as the runner's user runs it: the CLI from this checkout.
      const launcher = join(base, 'gh-zkrunner-agent')
      await writeFile(
        launcher,
        `#!/bin/sh\nexec "${NODE}" ${CLI.map((a) => `"${a}"`).join(' ')} "$@"\n`,
      )
      await chmod(launcher, 0o755)
      // The stack's own set-up: its directories, the signer it starts (root, holding the key, in
      // its environment too), and the runner it hands to the stand-in.
      const dirs = githubRunnerDirs(join(base, 'gh-stack'))
      await mkdir(dirs.root, { recursive: true })
      await rm(dirs.repository, { recursive: true, force: true })
      await execFileP('git', ['clone', '-q', src, dirs.repository])
      const sup = new Supervisor()
      onTestFinished(() => sup.stopAll())
      const stackLog: string[] = []
      const { runner, signer: stackSigner } = await startGithubRunner({
        sup,
        agent: { command: launcher, args: [] },
        agentEnv: env({ ZKRUNNER_RUNNER_KEY: runnerKey }),
        dirs,
        jobUser: lookupUser('nobody'),
        apiUrl: github.url,
        readToken: REPO.token,
        runnerName: RUNNER,
        runnerId: '1',
        servedProject: `${REPO.owner}/${REPO.name}`,
        log: (l) => stackLog.push(l),
      })
      expect(stackSigner, stackLog.join('\n')).toBeDefined()
      const signerPid = stackSigner!.proc.child.pid!
      expect(JSON.stringify(runner.env)).not.toContain(runnerKey)
      const keyFile = join(dataDir, KEY_FILE)
      const workflow = parseWorkflow(
        [
          'name: t',
          'on: {workflow_dispatch: {}}',
          'jobs:',
          '  test:',
          '    runs-on: [self-hosted]',
          '    defaults: {run: {shell: "zkrunner-agent run -- bash --noprofile --norc -eo pipefail {0}"}}',
          '    steps:',
          '      - uses: actions/checkout@v4',
          '      - run: |',
          ...[
            // The shell is -e: each attempt's failure is the expected answer, not the step's end.
            'set +e',
            'echo "uid=$(id -u)"',
            THIEF(keyFile),
            `echo tried-signer; cat /proc/${signerPid}/environ 2>&1 | tr "\\0" "\\n"`,
            `echo tried-stack; cat /proc/${process.pid}/environ 2>&1 | tr "\\0" "\\n"`,
            `cat /proc/${signerPid}/root${keyFile} 2>&1 || true`,
            `ls ${dirname(keyFile)} 2>&1 || true`,
            // A process left behind in a session of its own, to ask the signer for the next job.
            'setsid sleep 600 </dev/null >/dev/null 2>&1 &',
            'echo "orphan=$!"',
            'echo thief-really-done',
          ]
            .join('\n')
            .split('\n')
            .map((l) => `          ${l}`),
        ].join('\n'),
      )
      const jobId = randomBytes(16).toString('hex')
      const outcome = await startRun(
        jobId,
        (ctx) => runAsSelfHostedRunner(runner, workflow, ctx),
        {},
        { ZKRUNNER_SERVICE: service, ZKRUNNER_USER: user, ZKRUNNER_SOURCE_COMMITMENT: sha },
      ).result
      expect(outcome.conclusion, outcome.log).toBe('success')
      const spool = new Spool(dataDir)
      const out = `${outcome.log}\n${await published(jobId, { stdout: '', stderr: '' })}`
      // Every attempt ran, as the job user, and got nothing.
      expect(out).toContain('thief-really-done')
      expect(out).toContain(`uid=${NOBODY.uid}`)
      expect(out).toMatch(/runner-key\.json: Permission denied/)
      expect(out).toMatch(/environ: Permission denied/)
      expect(out).not.toContain(runnerKey)
      expect(out).not.toContain(REPO.token)
      // Nothing the job started outlives it (the signer's kill, and the runner's clean-up of
      // what still carries the job's RUNNER_TRACKING_ID).
      const orphan = Number(/orphan=(\d+)/.exec(out)?.[1])
      expect(orphan).toBeGreaterThan(1)
      // Gone, or a zombie waiting for its reaper: not running either way.
      const stat = await readFile(`/proc/${orphan}/stat`, 'utf8').catch(() => null)
      expect(
        stat === null || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z'),
        stat ?? '',
      ).toBe(true)
      // A normal job all the same: the step's output in a bundle the runner key signed, run by
      // the signer, and the completed hook prints its CID.
      const { manifest, signature } = await readSealed(spool.bundleDir(jobId))
      expect(verifyManifest(manifest, signature).ok).toBe(true)
      expect(manifest).toMatchObject({ jobId, ran: { mode: 'signer' } })
      expect(manifest.exitCode).toBe(0)
      expect(await readFile(join(spool.bundleDir(jobId), 'stdout.log'), 'utf8')).toContain(
        'thief-really-done',
      )
      expect((outcome.log ?? '').split('\n')).toContain((await spool.state(jobId)).bundleCid)
    })

    it("a private service: the signer opens the commitment with its own privateSources, never the caller's", async () => {
      const ran = 'a1'.repeat(20)
      const opens = privateCommitment({ ...SIGNER_OPENING, commit: ran })
      const callerOnly = { ...SIGNER_OPENING, project: 'acme/elsewhere' }
      const claimed = privateCommitment({ ...callerOnly, commit: ran })
      const spool = new Spool(dataDir)
      // Each job is one the Worker dispatched to this runner, of a service committing to
      // `commitment` (the signer binds every job it runs or signs to that).
      onTestFinished(() => {
        serviceCommitment = commit
      })
      const run = (jobId: string, commitment: string, extra: NodeJS.ProcessEnv = {}) => {
        serviceCommitment = commitment
        return inRun(jobId, () =>
          asJobUser(
            NODE,
            [...CLI, 'run', '--job', jobId, '--service', service, '--user', user].concat([
              '--source-commitment',
              commitment,
              '--',
              'sh',
              '-c',
              'echo ran',
            ]),
            { CI_COMMIT_SHA: ran, ...extra },
          ),
        )
      }

      // The signer's own opening opens it: the job runs.
      const good = randomBytes(16).toString('hex')
      const r = await run(good, opens)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toBe(`ran\n${(await spool.state(good)).bundleCid}\n`)

      // An opening only the caller holds: not run, not charged, and the commit is not named.
      const bad = randomBytes(16).toString('hex')
      const b = await run(bad, claimed, { ZKRUNNER_PRIVATE_SOURCES: JSON.stringify([callerOnly]) })
      expect(b.code).toBe(1)
      expect(b.stderr).toMatch(/source mismatch: .* a commit that does not open it/)
      expect(b.stderr).not.toContain(ran)
      expect((await spool.state(bad)).notRun).toBe('source-mismatch')

      // The GitHub `started` hook runs as the job user, who holds no opening: the signer decides,
      // and on a match it runs and signs nothing (the step that follows is the job).
      const hooked = randomBytes(16).toString('hex')
      const eventPath = join(jobDir, `event-${hooked}.json`)
      await writeFile(
        eventPath,
        JSON.stringify({
          inputs: {
            ZKRUNNER_JOB_ID: hooked,
            ZKRUNNER_SERVICE: service,
            ZKRUNNER_USER: user,
            ZKRUNNER_SOURCE_COMMITMENT: opens,
          },
          ref: 'refs/heads/main',
          workflow: 'z.yml',
        }),
      )
      await chown(eventPath, NOBODY.uid, NOBODY.gid)
      const started = await asJobUser(NODE, [...CLI, 'github', 'hook', 'started'], {
        GITHUB_ACTIONS: 'true',
        GITHUB_EVENT_NAME: 'workflow_dispatch',
        GITHUB_EVENT_PATH: eventPath,
        GITHUB_SHA: ran,
        GITHUB_WORKSPACE: jobDir,
      })
      expect(started.code, started.stderr).toBe(0)
      expect(started.stderr).toMatch(/checked by the signer/)
      expect(existsSync(spool.jobDir(hooked))).toBe(false)
    })

    it("the signer reads artifacts with the job user's rights: a root-only file in the build dir, or a build dir holding the key, is never published", async () => {
      // A file only root may read, in the job's own directory (placed there, or hard-linked where
      // the host allows it).
      const secret = join(jobDir, 'root-only.txt')
      await writeFile(secret, `secret ${runnerKey}`, { mode: 0o600 })
      const linked = join(jobDir, 'key-link.json')
      await link(join(dataDir, KEY_FILE), linked)
      const jobId = randomBytes(16).toString('hex')
      const r = await inRun(jobId, () =>
        asJobUser(NODE, [
          ...CLI,
          'run',
          '--job',
          jobId,
          ...JOB,
          '--artifact',
          'root-only.txt',
          '--artifact',
          'key-link.json',
          '--',
          'true',
        ]),
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain('artifact root-only.txt skipped (unreadable)')
      const { manifest } = await readSealed(new Spool(dataDir).bundleDir(jobId))
      expect(manifest.skippedArtifacts).toEqual([
        { path: 'root-only.txt', reason: 'unreadable' },
        { path: 'key-link.json', reason: 'unreadable' },
      ])
      expect(await published(jobId, r)).not.toContain(runnerKey)
      await rm(secret)
      await rm(linked)
      // A caller that names a directory holding the signer's data dir as its build directory.
      const aboveId = randomBytes(16).toString('hex')
      const above = await inRun(aboveId, () =>
        ask(
          `${JSON.stringify({
            v: 1,
            op: 'run',
            command: 'true',
            args: [],
            cwd: base,
            vars: {},
            options: {
              jobId: aboveId,
              service,
              user,
              sourceCommitment: commit,
              artifacts: [`data/${KEY_FILE}`],
              passEnv: [],
            },
          })}\n`,
        ),
      )
      expect(above.stdout).toMatch(/"t":"error","code":"INVALID_CONFIG".*is inside/)
      expect(above.stdout).not.toContain(runnerKey)
    })
  },
)

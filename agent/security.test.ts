import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import {
  chmod,
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
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  parseResultReport,
  type ResultManifest,
  signResultReport,
  signVoucher,
  verifyResultReport,
} from '../protocol/index.ts'
import { collectArtifacts } from './bundle/artifacts.ts'
import { KEY_FILE } from './keys.ts'
import { JobMetrics } from './metrics/metrics.ts'
import { pendingBatches } from './settle/settle-queue.ts'
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
      const jobId = /\/v1\/jobs\/([0-9a-f]+)\/result/.exec(req.url ?? '')?.[1] ?? ''
      if (conflicting.has(jobId)) {
        res.writeHead(409, { 'content-type': 'application/json' })
        res.end(
          '{"error":{"code":"result_conflict","message":"a different result is already stored"}}',
        )
        return
      }
      reports.push({ url: req.url ?? '', body: JSON.parse(body) })
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
    CUSTOM_ENV_ZKRUNNER_JOB_ID: jobId,
    CUSTOM_ENV_ZKRUNNER_SERVICE: service,
    CUSTOM_ENV_ZKRUNNER_USER: user,
    CUSTOM_ENV_ZKRUNNER_SOURCE_COMMITMENT: commit,
    ...extra,
  }
}

// Each test runs the real CLI several times (a Node start with the TypeScript loader each): slow
// on a loaded host.
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

import { spawn } from 'node:child_process'
import { chown, mkdtemp, readFile, rm, rmdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { processesOf, type ScopeOptions, unifiedCgroupRoot } from '../agent/isolation/job-scope.ts'
import { ensureSystemUser } from '../agent/isolation/job-user.ts'
import { runAsSelfHostedRunner } from './runner.ts'
import { startGithubStandin } from './server.ts'
import type { GithubStandin, StandinRepo } from './types.ts'
import { parseWorkflow } from './workflow.ts'

// Attack (review of the stack's GitHub jobs as zkrunner-job): the runner's clean-up finds a job's
// leftovers by RUNNER_TRACKING_ID in their environment, and a job drops the variable with one
// `env -u`. In the stack the leftover then lives on as zkrunner-job, the user GitLab jobs (custom
// executor) run as too: it can read and write the next jobs' build directories and environments,
// whichever service or provider they are for, and ask the GitHub signer for the next GitHub job.
// The runner ends the job's whole scope (a cgroup v2, or without one every process of the job
// user) and starts no job while another job's processes run as its user.

const root = new URL('..', import.meta.url).pathname
const sample = parseWorkflow(
  await readFile(join(root, 'examples/sample-primes/.github/workflows/zkrunner.yml'), 'utf8'),
)
const repo: StandinRepo = {
  owner: 'octo',
  name: 'primes',
  tokens: ['github_pat_good'],
  workflows: [{ id: 161335, file: 'zkrunner.yml', ...sample.workflow }],
  sha: 'c'.repeat(40),
}
const inputs = {
  ZKRUNNER_JOB_ID: '0123456789abcdef0123456789abcdef',
  ZKRUNNER_SERVICE: 'B62service',
  ZKRUNNER_USER: 'B62user',
  ZKRUNNER_SOURCE_COMMITMENT: 'c'.repeat(40),
  LIMIT: '100',
}

// A job user of this file's own, made when missing: a user other tests (or a local stack) share
// could be running a job of theirs, and a job user runs one job at a time. Only root can switch
// users, so only root runs these.
const jobUser = process.getuid?.() === 0 ? ensureSystemUser('zkrunner-test-ghjob') : undefined

let standin: GithubStandin | undefined
let work: string | undefined
const strays: number[] = []
const uids: number[] = []
afterEach(async () => {
  await standin?.close()
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  // The made-up users' directories of job scopes (empty once their jobs have ended).
  const cgroups = unifiedCgroupRoot()
  for (const uid of uids.splice(0))
    if (cgroups) await rmdir(join(cgroups, 'zkrunner-jobs', `uid-${uid}`)).catch(() => {})
  if (work) await rm(work, { recursive: true, force: true })
  standin = work = undefined
})

/** A uid no process runs as (no passwd entry needed): the fallback kills every process of it. */
function unusedUid(): number {
  for (;;) {
    const uid = 1_500_000_000 + Math.floor(Math.random() * 100_000_000)
    if (processesOf(uid).length > 0) continue
    uids.push(uid)
    return uid
  }
}

/** Dispatches one job whose single `run:` step is `script`, on a runner running as `user`. */
async function runJob(
  user: { uid: number; gid: number; name?: string },
  script: string,
  scope?: ScopeOptions,
): Promise<{ conclusion: string; log: string }> {
  work = await mkdtemp(join(tmpdir(), 'zkrunner-ghs-orphan-'))
  await chown(work, user.uid, user.gid)
  const workflow = { ...sample, shell: 'bash -e {0}', steps: [{ run: script, env: {} }] }
  standin = await startGithubStandin({
    repos: [repo],
    runJob: (ctx) =>
      runAsSelfHostedRunner(
        {
          workDir: work!,
          checkoutFrom: work!,
          env: { PATH: process.env.PATH, HOME: work },
          user,
          ...(scope ? { scope } : {}),
        },
        workflow,
        ctx,
      ),
  })
  const res = await fetch(
    `${standin.url}/repos/octo/primes/actions/workflows/zkrunner.yml/dispatches`,
    {
      method: 'POST',
      headers: { authorization: 'Bearer github_pat_good', 'content-type': 'application/json' },
      body: JSON.stringify({ ref: 'main', inputs }),
    },
  )
  expect(res.status).toBe(204)
  await standin.idle()
  const job = standin.runs[0]!.jobs[0]!
  return { conclusion: standin.runs[0]!.conclusion ?? '', log: job.log }
}

const ORPHAN =
  'env -u RUNNER_TRACKING_ID setsid sleep 600 </dev/null >/dev/null 2>&1 &\necho "orphan=$!"'

/** Gone, or a zombie waiting for its reaper: not running as the job user into the next job. */
async function expectEnded(pid: number, log: string): Promise<void> {
  expect(pid, log).toBeGreaterThan(1)
  strays.push(pid)
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  expect(stat === null || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z'), stat ?? '').toBe(
    true,
  )
}

describe.skipIf(jobUser === undefined)('GitHub runner as the job user: leftovers', () => {
  it('nothing a job started as the job user outlives the job, even without RUNNER_TRACKING_ID', async () => {
    const { log } = await runJob(jobUser!, ORPHAN)
    await expectEnded(Number(/orphan=(\d+)/.exec(log)?.[1]), log)
  })

  it('without a cgroup v2 (the fallback), every process of the job user is ended with the job', async () => {
    const uid = unusedUid()
    const { log } = await runJob({ uid, gid: uid }, ORPHAN, { cgroupRoot: null })
    await expectEnded(Number(/orphan=(\d+)/.exec(log)?.[1]), log)
    expect(processesOf(uid)).toEqual([])
  })

  for (const [how, scope] of [
    ['in a cgroup v2', undefined],
    ['without one', { cgroupRoot: null }],
  ] as const) {
    it(`${how}: no job starts while another job's process runs as the job user`, async () => {
      const uid = unusedUid()
      // A leftover of some earlier job of this user (or a job running beside it).
      const stray = spawn('setsid', ['sleep', '600'], { uid, gid: uid, stdio: 'ignore' })
      strays.push(stray.pid!)
      await new Promise((r) => stray.once('spawn', r))
      const { conclusion, log } = await runJob({ uid, gid: uid }, 'echo step-ran', scope)
      expect(conclusion).toBe('failure')
      expect(log).toMatch(/another job's processes are running as/)
      expect(log).not.toMatch(/step-ran/)
    })
  }
})

import { chown, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { lookupUser } from '../agent/isolation/job-user.ts'
import { runAsSelfHostedRunner } from './runner.ts'
import { startGithubStandin } from './server.ts'
import type { GithubStandin, StandinRepo } from './types.ts'
import { parseWorkflow } from './workflow.ts'

// Attack (review of the stack's GitHub jobs as zkrunner-job): the runner's clean-up finds a job's
// leftovers by RUNNER_TRACKING_ID in their environment, and a job drops the variable with one
// `env -u`. In the stack the leftover then lives on as zkrunner-job, the user GitLab jobs (custom
// executor) run as too: it can read and write the next jobs' build directories and environments,
// whichever service or provider they are for, and ask the GitHub signer for the next GitHub job.

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

const jobUser = (() => {
  if (process.getuid?.() !== 0) return undefined
  try {
    return lookupUser('zkrunner-job')
  } catch {
    return undefined
  }
})()

let standin: GithubStandin | undefined
let work: string | undefined
let orphan = 0
afterEach(async () => {
  await standin?.close()
  if (orphan > 1) {
    try {
      process.kill(orphan, 'SIGKILL')
    } catch {}
  }
  if (work) await rm(work, { recursive: true, force: true })
  standin = work = undefined
})

describe.skipIf(jobUser === undefined)('GitHub runner as the job user: leftovers', () => {
  it('nothing a job started as the job user outlives the job, even without RUNNER_TRACKING_ID', async () => {
    const user = jobUser!
    work = await mkdtemp(join(tmpdir(), 'zkrunner-ghs-orphan-'))
    await chown(work, user.uid, user.gid)
    const workflow = {
      ...sample,
      shell: 'bash -e {0}',
      steps: [
        {
          run: 'env -u RUNNER_TRACKING_ID setsid sleep 600 </dev/null >/dev/null 2>&1 &\necho "orphan=$!"',
          env: {},
        },
      ],
    }
    standin = await startGithubStandin({
      repos: [repo],
      runJob: (ctx) =>
        runAsSelfHostedRunner(
          {
            workDir: work!,
            checkoutFrom: work!,
            env: { PATH: process.env.PATH, HOME: work },
            user: { uid: user.uid, gid: user.gid },
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
    const log = standin.runs[0]!.jobs[0]!.log
    orphan = Number(/orphan=(\d+)/.exec(log)?.[1])
    expect(orphan, log).toBeGreaterThan(1)
    // Gone, or a zombie waiting for its reaper: not running as the job user into the next job.
    const stat = await readFile(`/proc/${orphan}/stat`, 'utf8').catch(() => null)
    expect(stat === null || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z'), stat ?? '').toBe(
      true,
    )
  })
})

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startGithubStandin } from './server.ts'
import type { GithubStandin, StandinRepo } from './types.ts'
import { parseWorkflow } from './workflow.ts'

// Attack/bug (review of call paths): a driver call's request carries its call path, and the Worker
// sends it to the job as ZKRUNNER_CALL_PATH (worker/providers/trigger-variables.ts). GitHub refuses
// a dispatch with an input its workflow does not declare (422 "Unexpected inputs provided"), so a
// GitHub service built from the sample workflow cannot be anyone's driver: every call to it ends
// trigger_failed.

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

let standin: GithubStandin | undefined
afterEach(async () => {
  await standin?.close()
  standin = undefined
})

describe('the sample GitHub workflow as a driver', () => {
  it('takes the call path the Worker sends with a driver call', async () => {
    standin = await startGithubStandin({
      repos: [repo],
      runJob: async () => ({ conclusion: 'success', log: '' }),
    })
    const res = await fetch(
      `${standin.url}/repos/octo/primes/actions/workflows/zkrunner.yml/dispatches`,
      {
        method: 'POST',
        headers: { authorization: 'Bearer github_pat_good', 'content-type': 'application/json' },
        body: JSON.stringify({
          ref: 'main',
          inputs: {
            ZKRUNNER_JOB_ID: '0123456789abcdef0123456789abcdef',
            ZKRUNNER_SERVICE: 'B62service',
            ZKRUNNER_USER: 'B62user',
            ZKRUNNER_SOURCE_COMMITMENT: 'c'.repeat(40),
            ZKRUNNER_CALL_PATH: '["B62qouter"]',
          },
        }),
      },
    )
    expect(res.status, await res.text()).toBe(204)
  })
})

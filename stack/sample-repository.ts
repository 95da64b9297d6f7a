import { execFile } from 'node:child_process'
import { cp, rm } from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)

// Fixed author, committer and dates: the same files give the same commit on every start, so the
// GitHub service's descriptor (its source commitment is this commit) and its contract stay put.
const FIXED_COMMIT_ENV = {
  GIT_AUTHOR_NAME: 'zkrunner',
  GIT_AUTHOR_EMAIL: 'sample@zkrunner.invalid',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'zkrunner',
  GIT_COMMITTER_EMAIL: 'sample@zkrunner.invalid',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
}

/**
 * Makes `repoDir` a git repository of its own holding the sample project's files in one commit on
 * `main`, as the sample's GitHub repository would be: GitHub runs the workflow at the top of a
 * repository and its runner checks out a commit, which the job hook compares with the service's
 * source commitment. Returns that commit.
 */
export async function sampleRepository(projectDir: string, repoDir: string): Promise<string> {
  await rm(repoDir, { recursive: true, force: true })
  await cp(projectDir, repoDir, { recursive: true })
  const git = async (...args: string[]) =>
    (
      await run('git', ['-C', repoDir, ...args], { env: { ...process.env, ...FIXED_COMMIT_ENV } })
    ).stdout.trim()
  await git('init', '--quiet', '--initial-branch=main')
  await git('add', '--all')
  await git('commit', '--quiet', '--no-gpg-sign', '--message', 'sample-primes')
  return git('rev-parse', 'HEAD')
}

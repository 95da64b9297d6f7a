import type { TestProject } from 'vitest/node'
import { startGitlabStandin } from '../../gitlab-standin/index.ts'
import {
  TEST_API_TOKEN,
  TEST_GITHUB_REPOSITORY,
  TEST_GITHUB_TOKEN,
  TEST_PROJECT_ID,
  TEST_TRIGGER_TOKEN,
} from './constants.ts'
import { serveFakeGithub } from './fake-github-server.ts'
import { startFakeMina } from './fake-mina.ts'

/** Starts the GitLab stand-in, a fake GitHub API and a fake Mina node on loopback for the workerd tests. */
export default async function setup(project: TestProject) {
  const gitlab = await startGitlabStandin({
    projects: [
      {
        id: TEST_PROJECT_ID,
        triggerTokens: [TEST_TRIGGER_TOKEN],
        accessTokens: [TEST_API_TOKEN],
      },
    ],
    autoRun: false,
    control: true,
  })
  const mina = await startFakeMina()
  const github = await serveFakeGithub({
    token: TEST_GITHUB_TOKEN,
    repository: TEST_GITHUB_REPOSITORY,
  })
  project.provide('gitlabUrl', gitlab.url)
  project.provide('githubUrl', github.url)
  project.provide('minaUrl', mina.url)
  return async () => {
    await gitlab.close()
    await mina.close()
    await github.close()
  }
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGitlabStandin } from '../../gitlab-standin/server.ts'
import type { GitlabStandin } from '../../gitlab-standin/types.ts'
import { generateMinaKeyPair } from '../../protocol/index.ts'
import { defaultConfig } from '../config.ts'
import { AgentErrorCode } from '../errors.ts'
import { outcome, startBindingWorker, triggerPipeline } from './binding-test-support.ts'
import {
  BindingVerdicts,
  checkJobBinding,
  type SignerBinding,
  signerBinding,
} from './job-binding.ts'

// The signer's job check on GitLab (shell executor), against the GitLab stand-in's jobs API and a
// Worker answering GET /v1/jobs/:id and /v1/services/:a. (GitHub's runs through the signer itself
// in security.test.ts.)

const service = generateMinaKeyPair().publicKey
const user = generateMinaKeyPair().publicKey
const commit = 'c'.repeat(40)
let worker: Awaited<ReturnType<typeof startBindingWorker>>
let gitlab: GitlabStandin

beforeAll(async () => {
  worker = await startBindingWorker()
  worker.services.set(service, {
    service,
    descriptor: { provider: 'gitlab', project: '7', ref: 'main', sourceCommitment: commit },
  })
})
afterAll(async () => {
  worker.close()
  await gitlab?.close()
})

const binding = (runner = '42'): SignerBinding => ({
  workerUrl: worker.url,
  provider: 'gitlab',
  apiUrl: gitlab.url,
  token: 'glpat-read',
  runner,
  servedProjects: ['7'],
})
const job = (jobId: string) => ({ jobId, service, user, sourceCommitment: commit })
/** The Worker's record of `jobId`: triggered, pipeline `id` of project 7, no result. */
const record = (jobId: string, pipelineId: number | null, extra: Record<string, unknown> = {}) =>
  worker.jobs.set(jobId, {
    jobId,
    service,
    user,
    status: 'running',
    createdAt: new Date().toISOString(),
    pipeline: pipelineId === null ? null : { id: pipelineId, projectId: 7, webUrl: null },
    result: null,
    ...extra,
  })

describe("the signer's job check on GitLab", () => {
  it("passes only for the job whose pipeline has a job running on this runner; another runner's, a finished pipeline or no pipeline yet are refused", async () => {
    const ids = { mine: 'a'.repeat(32), done: 'b'.repeat(32), early: 'd'.repeat(32) }
    const seen: Record<string, string> = {}
    let recordedMine!: (id: number) => void
    /** Resolves once the Worker recorded this job's pipeline (from the trigger's answer). */
    const mine = new Promise<number>((resolve) => (recordedMine = resolve))
    gitlab = await startGitlabStandin({
      projects: [{ id: 7, triggerTokens: ['glptt'], accessTokens: ['glpat-read'] }],
      runner: { id: 42, description: 'rack-1' },
      runJob: async ({ variables }) => {
        if (variables.ZKRUNNER_JOB_ID !== ids.mine) return { status: 'success' }
        await mine
        seen.mine = await outcome(checkJobBinding(binding(), job(ids.mine)))
        seen.otherRunner = await outcome(checkJobBinding(binding('43'), job(ids.mine)))
        seen.done = await outcome(checkJobBinding(binding(), job(ids.done)))
        seen.early = await outcome(checkJobBinding(binding(), job(ids.early)))
        return { status: 'success' }
      },
    })
    const trigger = (jobId: string) => triggerPipeline(gitlab.url, jobId)
    // A job whose pipeline already ran to its end.
    record(ids.done, await trigger(ids.done))
    await gitlab.idle()
    record(ids.early, null)
    const mineId = await trigger(ids.mine)
    record(ids.mine, mineId)
    recordedMine(mineId)
    await gitlab.idle()
    const refused = AgentErrorCode.SIGNER_REFUSED
    expect(seen).toEqual({
      mine: 'ok',
      otherRunner: `${refused}: job ${ids.mine}: GitLab's pipeline ${mineId} has no job running on runner 43; nothing was run or signed`,
      done: expect.stringMatching(
        new RegExp(
          `^${refused}: job ${ids.done}: GitLab's pipeline \\d+ has no job running on runner 42`,
        ),
      ),
      early: `${refused}: job ${ids.early}: the Worker has not recorded its pipeline yet; nothing was run or signed`,
    })
    // Once its pipeline is over, the job itself is refused too (asked afresh: a verdict stands
    // 30 s, and the signer's spool refuses a job that ran before it asks again).
    expect(await outcome(checkJobBinding(binding(), job(ids.mine), new BindingVerdicts()))).toMatch(
      /has no job running on runner 42/,
    )
  })

  it('refuses a job of a service on another provider, another source commitment, or a job with a result', async () => {
    const id = 'e'.repeat(32)
    record(id, 1)
    const gh = { ...binding(), provider: 'github' as const }
    expect(await outcome(checkJobBinding(gh, job(id)))).toContain(
      'its service runs on gitlab, this signer',
    )
    expect(
      await outcome(checkJobBinding(binding(), { ...job(id), sourceCommitment: 'f'.repeat(40) })),
    ).toContain("the source commitment is not its service's")
    record(id, 1, { result: { bundleCid: 'x' } })
    expect(await outcome(checkJobBinding(binding(), job(id)))).toContain(
      'the Worker already holds its result',
    )
    record(id, 1, { status: 'queued' })
    expect(await outcome(checkJobBinding(binding(), job(id), new BindingVerdicts()))).toContain(
      'the Worker says it is queued, not dispatched and running',
    )
  })
})

describe("the signer's settings", () => {
  const settings = {
    provider: 'github' as const,
    providerApiUrl: 'https://api.github.com',
    providerToken: 't',
    runnerName: 'zkrunner-1',
  }
  const bindingOf = (extra: Record<string, string>) => () =>
    signerBinding({ ...defaultConfig(), buildsDir: '/nowhere', ...settings, ...extra })

  it("needs the projects its runner serves, each in the provider's form", () => {
    expect(bindingOf({})).toThrow(/servedProjects/)
    expect(bindingOf({ servedProjects: ' , ' })).toThrow(/servedProjects: GitHub owner\/repo/)
    expect(bindingOf({ servedProjects: 'alice/svc-a,7' })).toThrow(/not one: "7"/)
    expect(bindingOf({ servedProjects: 'alice/svc-a, bob/x' })().servedProjects).toEqual([
      'alice/svc-a',
      'bob/x',
    ])
    expect(() =>
      signerBinding({
        ...defaultConfig(),
        buildsDir: '/nowhere',
        ...settings,
        provider: 'gitlab',
        runnerName: '42',
        servedProjects: 'group/proj',
      }),
    ).toThrow(/GitLab project ids/)
  })
})

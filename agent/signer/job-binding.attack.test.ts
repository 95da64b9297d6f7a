import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGithubStandin } from '../../github-standin/server.ts'
import type { GithubStandin } from '../../github-standin/types.ts'
import { startGitlabStandin } from '../../gitlab-standin/server.ts'
import type { GitlabStandin } from '../../gitlab-standin/types.ts'
import { generateMinaKeyPair } from '../../protocol/index.ts'
import { outcome, startBindingWorker, triggerPipeline } from './binding-test-support.ts'
import { checkJobBinding } from './job-binding.ts'

// Attack review of the signer's job binding (branch attack-signer). Each test is a finding: it
// FAILS on the current code (the check lets job A have job B's identity) and should pass once
// the binding ties the caller itself (not only "some job of B's run") to this runner.

const victimUser = generateMinaKeyPair().publicKey
const attackerUser = generateMinaKeyPair().publicKey
const serviceA = generateMinaKeyPair().publicKey
const serviceB = generateMinaKeyPair().publicKey
const commit = 'c'.repeat(40)
let worker: Awaited<ReturnType<typeof startBindingWorker>>
let held: Map<string, Record<string, unknown>>
let services: Map<string, Record<string, unknown>>
let workerUrl: string

beforeAll(async () => {
  worker = await startBindingWorker()
  ;({ jobs: held, services, url: workerUrl } = worker)
})
afterAll(() => worker.close())

describe('attack: GitLab, one runner id running two jobs at once (concurrent/limit > 1)', () => {
  let gitlab: GitlabStandin
  afterAll(() => gitlab?.close())

  it("job A (attacker's) cannot have job B (another user's, running on the same runner at the same time) signed", async () => {
    services.set(serviceA, {
      service: serviceA,
      descriptor: { provider: 'gitlab', project: '7', ref: 'main', sourceCommitment: commit },
    })
    const a = '1'.repeat(32)
    const b = '2'.repeat(32)
    let seen = ''
    let bRunning!: () => void
    const bIsRunning = new Promise<void>((r) => (bRunning = r))
    let aDone!: () => void
    const aIsDone = new Promise<void>((r) => (aDone = r))
    const pipelines = new Map<string, number>()
    let recorded!: () => void
    const bothRecorded = new Promise<void>((r) => (recorded = r))
    gitlab = await startGitlabStandin({
      projects: [{ id: 7, triggerTokens: ['glptt'], accessTokens: ['glpat-read'] }],
      // One registered runner (one id), taking jobs concurrently as GitLab Runner does with
      // `concurrent`/`limit` above 1: the jobs API names the same runner.id for both.
      runner: { id: 42, description: 'rack-1' },
      runJob: async ({ variables }) => {
        await bothRecorded
        if (variables.ZKRUNNER_JOB_ID === b) {
          bRunning()
          // B's script is still in its before_script (or simply slower to call the signer).
          await aIsDone
          return { status: 'success' }
        }
        await bIsRunning
        // A's code names B, whose id is in B's pipeline variables and on the Worker's public API.
        seen = await outcome(
          checkJobBinding(
            {
              workerUrl,
              provider: 'gitlab',
              apiUrl: gitlab.url,
              token: 'glpat-read',
              runner: '42',
              servedProjects: ['7'],
            },
            { jobId: b, service: serviceA, user: victimUser, sourceCommitment: commit },
          ),
        )
        aDone()
        return { status: 'success' }
      },
    })
    const trigger = (jobId: string) => triggerPipeline(gitlab.url, jobId)
    for (const [id, u] of [
      [b, victimUser],
      [a, attackerUser],
    ] as const) {
      const p = await trigger(id)
      pipelines.set(id, p)
      held.set(id, {
        jobId: id,
        service: serviceA,
        user: u,
        status: 'running',
        createdAt: new Date().toISOString(),
        pipeline: { id: p, projectId: 7, webUrl: null },
        result: null,
      })
    }
    recorded()
    await gitlab.idle()
    // Before the fix: 'ok' — the signer would run A's command and sign it as B (B's own run is then
    // refused: the id is signed once). The runner being busy with B is no proof the caller is B.
    expect(seen).toMatch(/^SIGNER_REFUSED/)
  })
})

describe('attack: GitHub, runner_name is not unique across repositories', () => {
  let github: GithubStandin
  afterAll(() => github?.close())

  it("a job on this runner (service A's repo) cannot have a job of service B's repo signed because B's runner has the same name", async () => {
    const RUNNER = 'zkrunner-1'
    const wf = (id: number) => ({
      id,
      file: 'zkrunner.yml',
      name: 'zkrunner',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub's expression, not JS
      runName: 'zkrunner ${{ inputs.ZKRUNNER_JOB_ID }}',
      inputs: { ZKRUNNER_JOB_ID: { required: true } },
      jobName: 'test',
    })
    const a = '3'.repeat(32)
    const b = '4'.repeat(32)
    let seen = ''
    let bRunning!: () => void
    const bIsRunning = new Promise<void>((r) => (bRunning = r))
    let aDone!: () => void
    const aIsDone = new Promise<void>((r) => (aDone = r))
    services.set(serviceA, {
      service: serviceA,
      descriptor: {
        provider: 'github',
        project: 'alice/svc-a',
        ref: 'main',
        workflow: 'zkrunner.yml',
        sourceCommitment: commit,
      },
    })
    services.set(serviceB, {
      service: serviceB,
      descriptor: {
        provider: 'github',
        project: 'bob/svc-b',
        ref: 'main',
        workflow: 'zkrunner.yml',
        sourceCommitment: commit,
      },
    })
    github = await startGithubStandin({
      // Two self-hosted runners, one registered to each repository, both named zkrunner-1 (the
      // README's example name; GitHub only keeps names unique within one repo/org scope). The
      // stand-in has one runner name, so two slots stand for the two machines.
      runnerName: RUNNER,
      runnerSlots: 2,
      repos: [
        { owner: 'alice', name: 'svc-a', tokens: ['ghp-read'], workflows: [wf(1)] },
        { owner: 'bob', name: 'svc-b', tokens: ['ghp-read'], workflows: [wf(2)] },
      ],
      runJob: async ({ run }) => {
        const id = run.inputs.ZKRUNNER_JOB_ID!
        const h = held.get(id)
        if (h) h.pipeline ??= { id: String(run.id), projectId: null, webUrl: null }
        if (id === b) {
          bRunning()
          await aIsDone
          return { conclusion: 'success' }
        }
        await bIsRunning
        // A runs on the signer's runner (svc-a's); B runs on bob's runner of the same name.
        seen = await outcome(
          checkJobBinding(
            {
              workerUrl,
              provider: 'github',
              apiUrl: github.url,
              token: 'ghp-read',
              runner: RUNNER,
              // The signer's runner serves svc-a only (bob's runner of the same name is bob's).
              servedProjects: ['alice/svc-a'],
            },
            { jobId: b, service: serviceB, user: victimUser, sourceCommitment: commit },
          ),
        )
        aDone()
        return { conclusion: 'success' }
      },
    })
    for (const [id, svc, repo, u] of [
      [b, serviceB, 'bob/svc-b', victimUser],
      [a, serviceA, 'alice/svc-a', attackerUser],
    ] as const) {
      held.set(id, {
        jobId: id,
        service: svc,
        user: u,
        status: 'triggered',
        createdAt: new Date().toISOString(),
        pipeline: null,
        result: null,
      })
      await fetch(`${github.url}/repos/${repo}/actions/workflows/zkrunner.yml/dispatches`, {
        method: 'POST',
        headers: { authorization: 'Bearer ghp-read', 'content-type': 'application/json' },
        body: JSON.stringify({ ref: 'main', inputs: { ZKRUNNER_JOB_ID: id } }),
      })
    }
    await github.idle()
    // Before the fix: 'ok'. The signer never asked whether the job's repository is one its runner serves,
    // nor which runner (runner_id) it was: any runner anywhere with the same name would do. If both
    // services named the same runner key (one operator), the Worker accepted A's run as B's result.
    expect(seen).toMatch(/^SIGNER_REFUSED/)
  })
})

describe('attack: provider rate limit spent by one job', () => {
  let gitlab: GitlabStandin
  afterAll(() => gitlab?.close())

  it('asking again for a job already checked costs no further provider reads (each costs one today: a loop spends the shared token, then every job on the runner is refused)', async () => {
    services.set(serviceA, {
      service: serviceA,
      descriptor: { provider: 'gitlab', project: '7', ref: 'main', sourceCommitment: commit },
    })
    const a = '5'.repeat(32)
    const asks = 20
    let providerReads = 0
    let recorded!: () => void
    const isRecorded = new Promise<void>((r) => (recorded = r))
    const results: string[] = []
    gitlab = await startGitlabStandin({
      projects: [{ id: 7, triggerTokens: ['glptt'], accessTokens: ['glpat-read'] }],
      runner: { id: 42, description: 'rack-1' },
      runJob: async () => {
        await isRecorded
        const real = globalThis.fetch
        globalThis.fetch = (input, init) => {
          if (String(input).startsWith(gitlab.url)) providerReads++
          return real(input, init)
        }
        try {
          // The job's code loops `run --signer --job <its own id>` (or any id running anywhere:
          // the Worker's checks are public data). The signer checks the provider before it
          // looks at its own in-flight set or spool, so each ask is refused only after the reads.
          for (let i = 0; i < asks; i++)
            results.push(
              await outcome(
                checkJobBinding(
                  {
                    workerUrl,
                    provider: 'gitlab',
                    apiUrl: gitlab.url,
                    token: 'glpat-read',
                    runner: '42',
                    servedProjects: ['7'],
                  },
                  { jobId: a, service: serviceA, user: attackerUser, sourceCommitment: commit },
                ),
              ),
            )
        } finally {
          globalThis.fetch = real
        }
        return { status: 'success' }
      },
    })
    const res = await fetch(`${gitlab.url}/api/v4/projects/7/trigger/pipeline`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=glptt&ref=main&variables[ZKRUNNER_JOB_ID]=${a}`,
    })
    const p = ((await res.json()) as { id: number }).id
    held.set(a, {
      jobId: a,
      service: serviceA,
      user: attackerUser,
      status: 'running',
      createdAt: new Date().toISOString(),
      pipeline: { id: p, projectId: 7, webUrl: null },
      result: null,
    })
    recorded()
    await gitlab.idle()
    expect(results.every((r) => r === 'ok')).toBe(true)
    // Before the fix: 20 reads for 20 asks, with nothing bounding the asks but 16 connections at a time.
    expect(providerReads).toBeLessThan(asks)
  })
})

describe('attack: the read token follows a redirect to another host', () => {
  it('a GitLab answer that redirects elsewhere does not carry the signer token there', async () => {
    const gitlabProject = generateMinaKeyPair().publicKey
    services.set(gitlabProject, {
      service: gitlabProject,
      descriptor: { provider: 'gitlab', project: '7', ref: 'main', sourceCommitment: commit },
    })
    const a = '6'.repeat(32)
    held.set(a, {
      jobId: a,
      service: gitlabProject,
      user: attackerUser,
      status: 'running',
      createdAt: new Date().toISOString(),
      pipeline: { id: 9, projectId: 7, webUrl: null },
      result: null,
    })
    let leaked: string | undefined
    const elsewhere = createServer((req, res) => {
      leaked = req.headers['private-token'] as string | undefined
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]')
    })
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r))
    // The provider's host answers with a redirect (a proxy's SSO bounce, http→https on another
    // port, a moved project): Node's fetch drops `authorization` across origins, not `private-token`.
    const provider = createServer((_req, res) =>
      res
        .writeHead(302, {
          location: `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/x`,
        })
        .end(),
    )
    await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r))
    try {
      await outcome(
        checkJobBinding(
          {
            workerUrl,
            provider: 'gitlab',
            apiUrl: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`,
            token: 'glpat-secret',
            runner: '42',
            servedProjects: ['7'],
          },
          { jobId: a, service: gitlabProject, user: attackerUser, sourceCommitment: commit },
        ),
      )
    } finally {
      provider.close()
      elsewhere.close()
    }
    expect(leaked).toBeUndefined()
  })
})

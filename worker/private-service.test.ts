import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TEST_PROJECT_ID, TEST_SALT, TEST_WEBHOOK_SECRET } from './test-support/constants.ts'
import {
  call,
  fundedUser,
  makeService,
  pipelinesFor,
  postJson,
  registeredService,
  sealedJob,
  serviceStatusPath,
  type TestService,
} from './test-support/fixtures.ts'

// A private service: the descriptor names no provider URL, project, ref or job, and its commitment
// hides the commit. The Worker triggers from the sealed coordinates alone, and nothing it answers
// or logs names them.

const PROJECT_PATH = `zkrunner/project-${TEST_PROJECT_ID}`

/** The coordinates a private service must never show, with a name for the failure message. */
const secretsOf = (s: TestService): Record<string, string> => ({
  providerUrl: s.descriptor.providerUrl,
  project: s.descriptor.project,
  commit: s.descriptor.sourceCommitment,
  salt: TEST_SALT,
})

const leaks = (text: string, secrets: Record<string, string>) =>
  Object.entries(secrets)
    .filter(([, v]) => text.toLowerCase().includes(v.toLowerCase()))
    .map(([k]) => k)

let logged: string[] = []
beforeEach(() => {
  logged = []
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const)
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(' '))
    })
})
afterEach(() => vi.restoreAllMocks())

describe('a private service', () => {
  it('is triggered from its sealed coordinates, and no answer or log line names them', async () => {
    const service = await registeredService({ visibility: 'private', project: PROJECT_PATH })
    const secrets = secretsOf(service)
    expect(service.published.visibility).toBe('private')
    expect(leaks(JSON.stringify(service.published), secrets)).toEqual([])

    const user = await fundedUser(service, 100n)
    const { envelope, requestId } = await sealedJob(service, user, {
      cumulativeAmount: 10n,
      nonce: 1n,
    })
    const admitted = await postJson('/v1/jobs', envelope)
    expect(admitted.status).toBe(202)
    const answers = [await admitted.text()]

    // The stand-in knows the project by its path: the trigger went where the sealed coordinates say.
    const { pipelines } = await pipelinesFor(requestId)
    expect(pipelines).toHaveLength(1)
    const pipeline = pipelines[0] as (typeof pipelines)[0] & { project_id: number; ref: string }
    expect(pipeline.project_id).toBe(TEST_PROJECT_ID)
    expect(pipeline.ref).toBe('main')
    const variables = Object.fromEntries(pipeline.variables.map((v) => [v.key, v.value]))
    expect(variables.ZKRUNNER_SOURCE_COMMITMENT).toBe(service.published.sourceCommitment)
    expect(variables.ZKRUNNER_JOB_NAME).toBe('zkrunner')

    // GitLab's webhook names the project and the run's URL; the Worker keeps neither in view.
    const hook = await postJson(
      '/v1/gitlab/webhook',
      {
        object_kind: 'pipeline',
        object_attributes: {
          id: pipeline.id,
          status: 'running',
          url: `${service.descriptor.providerUrl}/${PROJECT_PATH}/-/pipelines/${pipeline.id}`,
          variables: [
            { key: 'ZKRUNNER_JOB_ID', value: requestId },
            { key: 'ZKRUNNER_SERVICE', value: service.address },
          ],
        },
        project: { id: TEST_PROJECT_ID, path_with_namespace: PROJECT_PATH },
        builds: [],
      },
      { 'x-gitlab-token': TEST_WEBHOOK_SECRET, 'x-gitlab-event': 'Pipeline Hook' },
    )
    expect(hook.status).toBeLessThan(300)
    answers.push(await hook.text())
    const job = await call(`/v1/jobs/${requestId}`)
    const jobText = await job.text()
    answers.push(jobText)
    expect(JSON.parse(jobText)).toMatchObject({
      status: 'running',
      pipeline: { projectId: null, webUrl: null },
    })
    answers.push(await (await call(serviceStatusPath(service, user))).text())
    answers.push(await (await call(`/v1/services/${service.address}`)).text())

    for (const text of [...answers, ...logged]) expect(leaks(text, secrets)).toEqual([])
  })

  it('is refused at registration when the sealed coordinates do not open its commitment', async () => {
    const service = await makeService({
      visibility: 'private',
      project: PROJECT_PATH,
      coordinates: { project: 'zkrunner/another-project' },
    })
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(422)
    const text = await res.text()
    expect(JSON.parse(text).error.message).toMatch(/do not open the service’s source commitment/)
    expect(leaks(text, { ...secretsOf(service), other: 'another-project' })).toEqual([])
  })

  it('is refused at registration with malformed sealed coordinates', async () => {
    const service = await makeService({
      visibility: 'private',
      coordinates: { salt: 'not hex' },
    })
    const res = await postJson('/v1/services', service.registration)
    expect(res.status).toBe(400)
    expect(JSON.parse(await res.text()).error.message).toMatch(/^triggerToken:/)
  })
})

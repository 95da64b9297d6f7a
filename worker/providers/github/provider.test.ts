import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  call,
  fundedUser,
  githubRunsFor,
  makeService,
  postJson,
  registeredService,
  sealedJob,
  setGithubFaults,
  type TestService,
  testEnv,
} from '../../test-support/fixtures.ts'
import { parseExactJson } from './exact-json.ts'
import { inputsProblem } from './inputs.ts'

const stubOf = (service: TestService) =>
  testEnv.SERVICES.get(testEnv.SERVICES.idFromName(service.address))

async function submit(
  faults: Parameters<typeof setGithubFaults>[0],
  options: Parameters<typeof registeredService>[0] = {},
  parameters?: Record<string, string | number>,
  /** Store the registration in the service's object directly, as one made before the route checked it. */
  storedDirectly = false,
) {
  const service = storedDirectly
    ? await makeService({ provider: 'github', ...options })
    : await registeredService({ provider: 'github', ...options })
  if (storedDirectly) {
    expect(await stubOf(service).register(service.registration)).toMatchObject({ ok: true })
  }
  const user = await fundedUser(service, 100n)
  const { envelope, requestId } = await sealedJob(service, user, {
    cumulativeAmount: 10n,
    nonce: 1n,
    ...(parameters ? { parameters } : {}),
  })
  await setGithubFaults(faults)
  const before = (await githubRunsFor(requestId)).dispatchRequests
  const res = await postJson('/v1/jobs', envelope)
  await setGithubFaults({})
  return { service, requestId, res, before }
}

describe('GitHub trigger', () => {
  it('keeps 64-bit ids exact', () => {
    const parsed = parseExactJson(
      '{"workflow_run_id":18446744073709551615,"id":9007199254740993,"n":9007199254740993}',
    ) as Record<string, unknown>
    expect(parsed.workflow_run_id).toBe('18446744073709551615')
    expect(parsed.id).toBe('9007199254740993')
    // Only id fields are kept as text.
    expect(typeof parsed.n).toBe('number')
  })

  it('on a server without run details (204), finds the run by its run-name', async () => {
    const { service, requestId, res, before } = await submit({ legacy: true })
    expect(res.status).toBe(202)
    const body = (await res.json()) as { status: string; pipelineId: string | null }
    const { runs, dispatchRequests } = await githubRunsFor(requestId)
    expect(runs).toHaveLength(1)
    expect(body).toMatchObject({ status: 'triggered', pipelineId: runs[0]!.id })
    // The refused request (return_run_details named) created nothing; one dispatch went through.
    expect(dispatchRequests - before).toBe(2)
    expect((await stubOf(service).attempts(requestId)).map((a) => a.outcome)).toEqual([
      'dispatched',
    ])
  })

  it('refuses a job over 25 inputs before dispatch, with a code, and counts no voucher', async () => {
    // Registration refuses such a descriptor now (below); one registered before that still meets
    // the same rule at admission.
    const parameters = Array.from({ length: 19 }, (_, i) => ({
      name: `P${i}`,
      type: 'string' as const,
      maxLength: 16,
      required: true,
    }))
    const values = Object.fromEntries(parameters.map((p) => [p.name, 'x']))
    const { service, requestId, res, before } = await submit({}, { parameters }, values, true)
    expect(res.status).toBe(422)
    expect(await res.json()).toMatchObject({ error: { code: 'trigger_inputs_too_large' } })
    expect((await githubRunsFor(requestId)).dispatchRequests).toBe(before)
    expect(await stubOf(service).job(requestId)).toBeNull()
    expect(inputsProblem({ A: 'x'.repeat(65_600) })).toMatch(/65535 characters/)
    expect(inputsProblem({ A: 'x' })).toBeNull()
  })

  it('refuses to register a descriptor whose jobs would exceed 25 inputs or 65,535 characters: 422 with the admission rule', async () => {
    const strings = (count: number, maxLength: number) =>
      Array.from({ length: count }, (_, i) => ({
        name: `P${i}`,
        type: 'string' as const,
        maxLength,
        required: false,
      }))
    // Seven ZKRUNNER_* inputs are the Worker's: 18 parameters fit, 19 do not.
    const fits = await makeService({ provider: 'github', parameters: strings(18, 16) })
    expect((await postJson('/v1/services', fits.registration)).status).toBe(201)
    const tooMany = await makeService({ provider: 'github', parameters: strings(19, 16) })
    const many = await postJson('/v1/services', tooMany.registration)
    expect(many.status).toBe(422)
    expect(await many.json()).toMatchObject({
      error: {
        code: 'trigger_inputs_too_large',
        message: expect.stringMatching(/GitHub.*at most 25 workflow inputs; this job has 26/),
        path: ['descriptor', 'parameters'],
      },
    })
    // Few inputs, but values that can reach past 65,535 characters (the longest strings the
    // parameters allow, escaped, once as inputs and once in ZKRUNNER_PARAMETERS).
    const tooLong = await makeService({ provider: 'github', parameters: strings(3, 4096) })
    const long = await postJson('/v1/services', tooLong.registration)
    expect(long.status).toBe(422)
    expect(await long.json()).toMatchObject({
      error: {
        code: 'trigger_inputs_too_large',
        message: expect.stringMatching(/65535 characters/),
      },
    })
    // Nothing was stored: the refused versions take no job.
    for (const refused of [tooMany, tooLong]) {
      const status = await call(`/v1/services/${refused.address}`)
      expect(await status.json()).toMatchObject({ registered: false, enabled: false })
    }
    // GitLab has no such limit: the same parameters register there.
    const gitlab = await makeService({ parameters: strings(19, 4096) })
    expect((await postJson('/v1/services', gitlab.registration)).status).toBe(201)
  })

  it('after a 5xx that created nothing, waits until a run would be listed, then dispatches once more', async () => {
    const { service, requestId, res, before } = await submit({ trigger: [{ status: 503 }] })
    expect(((await res.json()) as { status: string }).status).toBe('queued')
    const stub = stubOf(service)
    expect((await stub.attempts(requestId)).map((a) => a.outcome)).toEqual(['ambiguous'])
    // GitHub lists a dispatched run some seconds later: "none" right away is not believed.
    expect((await githubRunsFor(requestId)).dispatchRequests - before).toBe(1)
    // Half a minute passes.
    await runInDurableObject(stub, async (_, state) => {
      state.storage.sql.exec(
        'UPDATE trigger_attempts SET started_at = started_at - 60000 WHERE job_id = ?',
        requestId,
      )
      state.storage.sql.exec('UPDATE jobs SET next_attempt_at = 1 WHERE job_id = ?', requestId)
      await state.storage.setAlarm(Date.now())
    })
    expect(await runDurableObjectAlarm(stub)).toBe(true)
    expect((await stub.attempts(requestId)).map((a) => a.outcome)).toEqual(['ambiguous', 'created'])
    const { runs, dispatchRequests } = await githubRunsFor(requestId)
    expect(runs).toHaveLength(1)
    expect(dispatchRequests - before).toBe(2)
    const view = (await (await call(`/v1/jobs/${requestId}`)).json()) as { status: string }
    expect(view.status).toBe('triggered')
  })
})

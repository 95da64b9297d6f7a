import { Hono } from 'hono'
import type { z } from 'zod'
import { readText } from '../../body.ts'
import { configOf } from '../../config.ts'
import type { AppEnv, Env } from '../../env.ts'
import { ApiError, ApiErrorCode } from '../../errors.ts'
import { serviceStub } from '../../services.ts'
import { answer, ignored } from '../webhook-answer.ts'
import { statusOf, WorkflowJobSchema, WorkflowRunSchema } from './events.ts'
import { parseExactJson } from './exact-json.ts'
import { jobIdOfRunName } from './run-name.ts'
import { SIGNATURE_HEADER } from './signature.ts'

/** workflow_run payloads carry two repository objects and a commit: more than a job request. */
const MAX_HOOK_BYTES = 1024 * 1024
/** X-GitHub-Delivery: a GUID (GitHub) kept as the de-duplication key. */
const DELIVERY = /^[0-9A-Za-z-]{1,64}$/

const unauthorized = () =>
  new ApiError(401, ApiErrorCode.UNAUTHORIZED, 'X-Hub-Signature-256 is missing or malformed')

async function pointer(env: Env, name: string): Promise<string | null> {
  return env.JOBS.get(env.JOBS.idFromName(name)).get()
}

/**
 * `POST /v1/github/webhook`: GitHub `workflow_run` and `workflow_job` deliveries. Each service has
 * its own webhook secret, sealed in its registration: the service's Durable Object checks the
 * body's HMAC (X-Hub-Signature-256) and the repository, so one operator's secret cannot move
 * another service's jobs. A redelivery keeps its X-GitHub-Delivery and changes nothing.
 */
export const githubWebhook = new Hono<AppEnv>().post('/', async (c) => {
  configOf(c.env)
  const signature = c.req.header('x-hub-signature-256')
  if (signature === undefined || !SIGNATURE_HEADER.test(signature)) throw unauthorized()
  const event = c.req.header('x-github-event')
  const delivery = c.req.header('x-github-delivery')
  const raw = await readText(c, MAX_HOOK_BYTES)
  if (event !== 'workflow_run' && event !== 'workflow_job') {
    return c.json(ignored(`event ${event ?? '(none)'} is not handled`))
  }
  if (delivery === undefined || !DELIVERY.test(delivery)) {
    throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'X-GitHub-Delivery is missing or malformed')
  }
  let body: unknown
  try {
    body = parseExactJson(raw)
  } catch {
    throw new ApiError(400, ApiErrorCode.MALFORMED_JSON, 'body is not valid JSON')
  }
  const evidence = { secret: signature, body: raw }
  const idempotencyKey = `github:${delivery}`
  if (event === 'workflow_run') {
    const hook = WorkflowRunSchema.safeParse(body)
    if (!hook.success) throw invalid(hook.error)
    const { workflow_run: run, repository } = hook.data
    const jobId = run.display_title ? jobIdOfRunName(run.display_title) : null
    const service = jobId === null ? null : await pointer(c.env, `job:${jobId}`)
    if (jobId === null || service === null) return c.json(ignored('not a zkrunner run'))
    const outcome = await serviceStub(c.env, service).applyRunEvent({
      provider: 'github',
      evidence,
      jobId,
      idempotencyKey,
      runId: run.id,
      projectId: Number(repository.id),
      projectPath: repository.full_name,
      status: statusOf('run', run.status, run.conclusion),
      webUrl: run.html_url ?? null,
      kind: 'pipeline',
      detail: `workflow run ${run.id} ${hook.data.action}${run.conclusion ? ` (${run.conclusion})` : ''}`,
    })
    return c.json(answer(outcome))
  }
  const hook = WorkflowJobSchema.safeParse(body)
  if (!hook.success) throw invalid(hook.error)
  const { workflow_job: job, repository } = hook.data
  const target = await pointer(
    c.env,
    `github-run:${repository.full_name.toLowerCase()}:${job.run_id}`,
  )
  if (target === null) return c.json(ignored('unknown run'))
  const { service, jobId } = JSON.parse(target) as { service: string; jobId: string }
  const outcome = await serviceStub(c.env, service).applyRunEvent({
    provider: 'github',
    evidence,
    jobId,
    idempotencyKey,
    runId: job.run_id,
    projectId: Number(repository.id),
    projectPath: repository.full_name,
    status: statusOf('job', job.status, job.conclusion),
    webUrl: null,
    kind: 'job',
    detail: `job ${job.id} (${job.name}) ${hook.data.action}`,
  })
  return c.json(answer(outcome))
})

function invalid(error: z.ZodError): ApiError {
  const issue = error.issues[0]
  return new ApiError(
    400,
    ApiErrorCode.INVALID_BODY,
    `not a GitHub ${issue ? `payload: ${issue.message}` : 'payload'}`,
    issue?.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
  )
}

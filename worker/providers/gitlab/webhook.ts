import { Hono } from 'hono'
import { z } from 'zod'
import { isPublicKey, RequestIdSchema } from '../../../protocol/index.ts'
import { readJson } from '../../body.ts'
import { configOf } from '../../config.ts'
import type { AppEnv } from '../../env.ts'
import { ApiError, ApiErrorCode } from '../../errors.ts'
import { serviceStub } from '../../services.ts'
import { JOB_ID_VARIABLE, SERVICE_VARIABLE } from '../variables.ts'
import { answer, ignored } from '../webhook-answer.ts'
import { jobHookPointer } from './job-hook-pointer.ts'

// GitLab's documented payloads carry much more; only what the Worker reads is checked.
const PipelineHookSchema = z.object({
  object_kind: z.literal('pipeline'),
  object_attributes: z.object({
    id: z.number().int().nonnegative(),
    status: z.string().min(1).max(64),
    url: z.string().max(2048).nullish(),
    variables: z
      .array(z.object({ key: z.string(), value: z.string() }))
      .max(1000)
      .default([]),
  }),
  project: z
    .object({
      id: z.number().int().nonnegative(),
      path_with_namespace: z.string().max(1024).nullish(),
    })
    .nullish(),
})

const JobHookSchema = z.object({
  object_kind: z.literal('build'),
  build_id: z.number().int().nonnegative(),
  build_name: z.string().max(255).nullish(),
  build_status: z.string().min(1).max(64),
  // Set on failed jobs; `ci_quota_exceeded` is GitLab's refusal for quota (the job never ran).
  build_failure_reason: z.string().max(128).nullish(),
  pipeline_id: z.number().int().nonnegative(),
  project_id: z.number().int().nonnegative(),
  project: z.object({ path_with_namespace: z.string().max(1024).nullish() }).nullish(),
})

/** GitLab's `failure_reason` for a job it will not run because the namespace's CI quota is used up. */
const QUOTA_FAILURE = 'ci_quota_exceeded'

/**
 * `POST /v1/gitlab/webhook`: GitLab Pipeline Hook and Job Hook events. Each service has its own
 * webhook secret, sealed in its registration: the service's Durable Object checks X-Gitlab-Token
 * and the event's project, so one operator's secret cannot move another service's jobs.
 */
export const gitlabWebhook = new Hono<AppEnv>().post('/', async (c) => {
  configOf(c.env)
  const token = c.req.header('x-gitlab-token')
  if (token === undefined || token === '') {
    throw new ApiError(401, ApiErrorCode.UNAUTHORIZED, 'X-Gitlab-Token is missing or wrong')
  }
  const event = c.req.header('x-gitlab-event')
  const body = await readJson(c)
  const idempotencyKey =
    c.req.header('idempotency-key') ?? c.req.header('x-gitlab-event-uuid') ?? null
  // GitLab disables hooks that keep failing: events that are not ours are answered 200, not 4xx.
  if (event === 'Pipeline Hook') {
    const hook = PipelineHookSchema.safeParse(body)
    if (!hook.success) throw invalid(hook.error)
    const attrs = hook.data.object_attributes
    const jobId = attrs.variables.find((v) => v.key === JOB_ID_VARIABLE)?.value
    const service = attrs.variables.find((v) => v.key === SERVICE_VARIABLE)?.value
    if (!jobId || !service || !RequestIdSchema.safeParse(jobId).success || !isPublicKey(service)) {
      return c.json(ignored('not a zkrunner pipeline'))
    }
    const outcome = await serviceStub(c.env, service).applyRunEvent({
      provider: 'gitlab',
      evidence: { secret: token },
      jobId,
      idempotencyKey,
      runId: String(attrs.id),
      projectId: hook.data.project?.id ?? null,
      projectPath: hook.data.project?.path_with_namespace ?? null,
      status: attrs.status,
      webUrl: attrs.url ?? null,
      kind: 'pipeline',
      detail: `pipeline ${attrs.id}`,
    })
    return c.json(answer(outcome))
  }
  if (event === 'Job Hook') {
    const hook = JobHookSchema.safeParse(body)
    if (!hook.success) throw invalid(hook.error)
    const h = hook.data
    const pointer = await c.env.JOBS.get(
      c.env.JOBS.idFromName(jobHookPointer(token, h.project_id, h.pipeline_id)),
    ).get()
    if (pointer === null) return c.json(ignored('unknown pipeline'))
    const { service, jobId } = JSON.parse(pointer) as { service: string; jobId: string }
    const outcome = await serviceStub(c.env, service).applyRunEvent({
      provider: 'gitlab',
      evidence: { secret: token },
      jobId,
      idempotencyKey,
      runId: String(h.pipeline_id),
      projectId: h.project_id,
      projectPath: h.project?.path_with_namespace ?? null,
      status: h.build_status,
      webUrl: null,
      kind: 'job',
      detail: `job ${h.build_id}${h.build_name ? ` (${h.build_name})` : ''}${
        h.build_status === 'failed' && h.build_failure_reason ? `: ${h.build_failure_reason}` : ''
      }`,
      quotaRefused: h.build_status === 'failed' && h.build_failure_reason === QUOTA_FAILURE,
    })
    return c.json(answer(outcome))
  }
  return c.json(ignored(`event ${event ?? '(none)'} is not handled`))
})

function invalid(error: z.ZodError): ApiError {
  const issue = error.issues[0]
  return new ApiError(
    400,
    ApiErrorCode.INVALID_BODY,
    `not a GitLab ${issue ? `payload: ${issue.message}` : 'payload'}`,
    issue?.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
  )
}

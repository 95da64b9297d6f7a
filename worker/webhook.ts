import { Hono } from 'hono'
import { z } from 'zod'
import { isPublicKey, RequestIdSchema } from '../protocol/index.ts'
import { readJson } from './body.ts'
import { configOf } from './config.ts'
import type { AppEnv } from './env.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import { JOB_ID_VARIABLE, SERVICE_VARIABLE } from './service-object.ts'
import { serviceStub } from './services.ts'

const encoder = new TextEncoder()

/** Compares two secrets in time independent of where they differ (and of their lengths: digests are compared). */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(given)),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ])
  return crypto.subtle.timingSafeEqual(a, b)
}

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
  project: z.object({ id: z.number().int().nonnegative() }).nullish(),
})

const JobHookSchema = z.object({
  object_kind: z.literal('build'),
  build_id: z.number().int().nonnegative(),
  build_name: z.string().max(255).nullish(),
  build_status: z.string().min(1).max(64),
  pipeline_id: z.number().int().nonnegative(),
  project_id: z.number().int().nonnegative(),
})

const ignored = (why: string) => ({ accepted: false, ignored: why })

/** `POST /v1/gitlab/webhook`: GitLab Pipeline Hook and Job Hook events, authenticated by X-Gitlab-Token. */
export const webhook = new Hono<AppEnv>().post('/', async (c) => {
  const config = configOf(c.env)
  const token = c.req.header('x-gitlab-token')
  if (token === undefined || !(await secretsEqual(token, config.webhookSecret))) {
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
    const outcome = await serviceStub(c.env, service).applyGitlabEvent({
      jobId,
      idempotencyKey,
      pipelineId: attrs.id,
      projectId: hook.data.project?.id ?? null,
      status: attrs.status,
      webUrl: attrs.url ?? null,
      kind: 'pipeline',
      detail: `pipeline ${attrs.id}`,
    })
    if (!outcome.ok) return c.json(ignored(outcome.code))
    return c.json({ accepted: outcome.value.applied })
  }
  if (event === 'Job Hook') {
    const hook = JobHookSchema.safeParse(body)
    if (!hook.success) throw invalid(hook.error)
    const h = hook.data
    const pointer = await c.env.JOBS.get(
      c.env.JOBS.idFromName(`pipeline:${h.project_id}:${h.pipeline_id}`),
    ).get()
    if (pointer === null) return c.json(ignored('unknown pipeline'))
    const { service, jobId } = JSON.parse(pointer) as { service: string; jobId: string }
    const outcome = await serviceStub(c.env, service).applyGitlabEvent({
      jobId,
      idempotencyKey,
      pipelineId: h.pipeline_id,
      projectId: h.project_id,
      status: h.build_status,
      webUrl: null,
      kind: 'job',
      detail: `job ${h.build_id}${h.build_name ? ` (${h.build_name})` : ''}`,
    })
    if (!outcome.ok) return c.json(ignored(outcome.code))
    return c.json({ accepted: outcome.value.applied })
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

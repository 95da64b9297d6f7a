import { Hono } from 'hono'
import { cors } from 'hono/cors'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AppEnv } from './env.ts'
import { ApiError, ApiErrorCode, errorBody } from './errors.ts'
import { jobs } from './jobs.ts'
import { keys } from './keys.ts'
import { WEBHOOKS } from './providers/webhooks.ts'
import { services } from './services.ts'

export { JobIndex } from './job-index.ts'
export { ServiceObject } from './service-object.ts'

/** The edge oracle's HTTP API. */
export const app = new Hono<AppEnv>()

// The page is served from anywhere (any static host): the API is public and carries no cookies.
app.use('/v1/*', cors({ origin: '*', allowHeaders: ['content-type'], maxAge: 600 }))

app.get('/v1/health', (c) => c.json({ ok: true }))
app.route('/v1/keys', keys)
app.route('/v1/services', services)
app.route('/v1/jobs', jobs)
for (const [name, route] of Object.entries(WEBHOOKS)) app.route(`/v1/${name}/webhook`, route)

app.notFound((c) =>
  c.json(errorBody(new ApiError(404, ApiErrorCode.NOT_FOUND, 'no such route')), 404),
)

app.onError((error, c) => {
  if (error instanceof ApiError) return c.json(errorBody(error), error.status)
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode
    const code = status === 413 ? ApiErrorCode.BODY_TOO_LARGE : ApiErrorCode.INVALID_BODY
    return c.json(errorBody(new ApiError(status, code, error.message || 'bad request')), status)
  }
  // Unexpected: log the kind only (a message could quote a secret-bearing value), answer plainly.
  console.error(`unhandled ${error.name} on ${c.req.method} ${c.req.routePath}`)
  return c.json(errorBody(new ApiError(500, ApiErrorCode.INTERNAL, 'internal error')), 500)
})

export default app

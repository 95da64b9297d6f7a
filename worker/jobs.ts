import { Hono } from 'hono'
import {
  CallRefusal,
  type CallRefusalCode,
  checkCallPath,
  JOB_REQUEST_INFO,
  openJson,
  parseEnvelope,
  parseJobSubmission,
  parseResultReport,
  parseSponsoredSubmission,
  RequestIdSchema,
  type SponsoredSubmission,
  verifySponsoredSubmission,
  verifyVoucher,
} from '../protocol/index.ts'
import { readJson } from './body.ts'
import { configOf } from './config.ts'
import type { AppEnv, Env } from './env.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import { fromProtocol, unwrapOutcome } from './outcome.ts'
import { serviceStub } from './services.ts'

/** How far ahead a request may expire: it bounds how long its id must be remembered. */
export const MAX_EXPIRY_SECONDS = 24 * 60 * 60

const notFound = () => new ApiError(404, ApiErrorCode.NOT_FOUND, 'no such job')

/** The service address a job id points to, or a 404. */
async function serviceOfJob(env: Env, jobId: string): Promise<string> {
  if (!RequestIdSchema.safeParse(jobId).success) throw notFound()
  const service = await env.JOBS.get(env.JOBS.idFromName(`job:${jobId}`)).get()
  if (service === null) throw notFound()
  return service
}

/** The Worker's error code for each of protocol's call refusals. */
const CALL_CODES: Record<CallRefusalCode, ApiErrorCode> = {
  [CallRefusal.TOO_DEEP]: ApiErrorCode.CALL_TOO_DEEP,
  [CallRefusal.CYCLE]: ApiErrorCode.CALL_CYCLE,
}

/** `POST /v1/jobs`, `GET /v1/jobs/:id` and `POST /v1/jobs/:id/result`. */
export const jobs = new Hono<AppEnv>()
  .post('/', async (c) => {
    const config = configOf(c.env)
    const envelope = parseEnvelope(await readJson(c))
    if (!envelope.ok) throw fromProtocol(envelope.error, ApiErrorCode.BAD_ENVELOPE)
    const opened = await openJson(config.keys, envelope.value, JOB_REQUEST_INFO)
    if (!opened.ok) throw fromProtocol(opened.error, ApiErrorCode.BAD_ENVELOPE)
    // A sponsored submission names the sponsor whose pool pays and carries no voucher.
    const sponsored =
      typeof opened.value === 'object' && opened.value !== null && 'sponsored' in opened.value
    const parsed = sponsored
      ? parseSponsoredSubmission(opened.value)
      : parseJobSubmission(opened.value)
    if (!parsed.ok) throw fromProtocol(parsed.error)
    const { request } = parsed.value
    const now = Math.floor(Date.now() / 1000)
    if (request.expiresAt <= now)
      throw new ApiError(410, ApiErrorCode.EXPIRED, 'the request expired')
    if (request.expiresAt > now + MAX_EXPIRY_SECONDS) {
      throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'expiresAt is more than a day ahead', [
        'request',
        'expiresAt',
      ])
    }
    // A call too deep or round a cycle is refused here, before the service's object is asked:
    // nothing is admitted, charged or triggered, whatever the voucher says.
    const call = checkCallPath(request.service, request.callPath)
    if (!call.ok) {
      throw new ApiError(422, CALL_CODES[call.code], call.message, ['request', 'callPath'])
    }
    if ('sponsored' in parsed.value) {
      // The user's own signature: nobody can spend a user's daily allowance in their name.
      if (!verifySponsoredSubmission(parsed.value as SponsoredSubmission).ok) {
        throw new ApiError(
          403,
          ApiErrorCode.BAD_SIGNATURE,
          'the sponsored request signature does not verify',
          ['sponsored', 'signature'],
        )
      }
    } else if (!verifyVoucher(parsed.value.voucher).ok) {
      throw new ApiError(403, ApiErrorCode.BAD_SIGNATURE, 'the voucher signature does not verify', [
        'voucher',
        'signature',
      ])
    }
    const result = unwrapOutcome(await serviceStub(c.env, request.service).submit(parsed.value))
    return c.json(result, 202)
  })
  .get('/:id', async (c) => {
    configOf(c.env)
    const jobId = c.req.param('id')
    const job = await serviceStub(c.env, await serviceOfJob(c.env, jobId)).job(jobId)
    if (job === null) throw notFound()
    return c.json(job)
  })
  .post('/:id/result', async (c) => {
    configOf(c.env)
    const jobId = c.req.param('id')
    const parsed = parseResultReport(await readJson(c))
    if (!parsed.ok) throw fromProtocol(parsed.error)
    if (parsed.value.jobId !== jobId) {
      throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'jobId differs from the URL', ['jobId'])
    }
    const service = await serviceOfJob(c.env, jobId)
    const stored = unwrapOutcome(await serviceStub(c.env, service).reportResult(parsed.value))
    return c.json({ jobId, stored: stored.stored }, stored.stored ? 201 : 200)
  })

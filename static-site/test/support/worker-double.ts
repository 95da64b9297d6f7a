import { createServer } from 'node:http'
import {
  type Envelope,
  generateHpkeKeyPair,
  HPKE_SUITE,
  type HpkeKeyPair,
  JOB_REQUEST_INFO,
  type JobSubmission,
  manifestDigest,
  openJson,
  parseEnvelope,
  parseJobSubmission,
  parseSponsoredSubmission,
  parseSponsorshipGrant,
  type ResultManifest,
  type SponsoredSubmission,
  type SponsorshipGrant,
  toHex,
  verifySponsoredSubmission,
  verifySponsorshipGrant,
  verifyVoucher,
} from '../../../protocol/index.ts'
import {
  CROSS_ORIGIN_HEADERS,
  listen,
  type RunningServer,
} from '../../../verify/test-support/trustless-gateway.ts'

/** What a finished job reports: the bundle the runner pinned. */
export interface DoubleResult {
  bundleCid: string
  manifest: ResultManifest
  runner: string
  signature: string
}

/** A Worker-API double over HTTP: the worker's documented JSON, real HPKE and voucher checks. */
export interface WorkerDouble extends RunningServer {
  keys: HpkeKeyPair
  /** Every envelope POSTed, with what it opened to. */
  received: { envelope: Envelope; submission: JobSubmission }[]
  /** Sponsored submissions (the user's signature, no voucher), apart from the paid ones. */
  sponsored: SponsoredSubmission[]
  /** Sponsors' grants offered, each verified. */
  grants: SponsorshipGrant[]
  /**
   * Set to play a dishonest Worker: the next job to complete reports this result (say, another
   * user's genuine job) instead of its own, under its own job id.
   */
  handBack: DoubleResult | null
  /** The pipeline link the next job polls answer (a compromised Worker may answer anything). */
  pipelineUrl: string
}

interface Job {
  submission: JobSubmission | SponsoredSubmission
  polls: number
  result: DoubleResult | null
  createdAt: string
}

/**
 * Starts the double. `service` answers GET /v1/services/:address; `complete` is called when a
 * job reaches success and returns the result report (the bundle the "runner" pinned).
 */
export async function startWorkerDouble(opts: {
  status: (address: string, user: string | null) => unknown
  complete: (submission: JobSubmission | SponsoredSubmission) => Promise<DoubleResult>
}): Promise<WorkerDouble> {
  const keys = await generateHpkeKeyPair()
  const received: WorkerDouble['received'] = []
  const sponsored: SponsoredSubmission[] = []
  const grants: SponsorshipGrant[] = []
  const jobs = new Map<string, Job>()
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { ...CROSS_ORIGIN_HEADERS, 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  const refuse = (
    res: import('node:http').ServerResponse,
    status: number,
    code: string,
    message: string,
  ) => send(res, status, { error: { code, message } })

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://worker')
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CROSS_ORIGIN_HEADERS).end()
      return
    }
    try {
      if (req.method === 'GET' && url.pathname === '/v1/keys') {
        send(res, 200, {
          suite: HPKE_SUITE,
          kid: keys.kid,
          publicKey: keys.publicKey,
          keys: [{ kid: keys.kid, publicKey: keys.publicKey, current: true }],
        })
        return
      }
      const service = /^\/v1\/services\/([^/]+)$/.exec(url.pathname)
      if (req.method === 'GET' && service) {
        send(res, 200, opts.status(decodeURIComponent(service[1]!), url.searchParams.get('user')))
        return
      }
      const grantPath = /^\/v1\/services\/([^/]+)\/sponsorships$/.exec(url.pathname)
      if (req.method === 'POST' && grantPath) {
        const chunks: Buffer[] = []
        for await (const c of req) chunks.push(c as Buffer)
        const g = parseSponsorshipGrant(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        if (!g.ok) return refuse(res, 400, 'invalid_body', g.error.message)
        if (!verifySponsorshipGrant(g.value).ok)
          return refuse(res, 403, 'bad_signature', 'a signature of the grant does not verify')
        grants.push(g.value)
        send(res, 201, {
          service: grantPath[1],
          sponsor: g.value.sponsorship.sponsor,
          vouchers: g.value.vouchers.length,
        })
        return
      }
      if (req.method === 'POST' && url.pathname === '/v1/jobs') {
        const chunks: Buffer[] = []
        for await (const c of req) chunks.push(c as Buffer)
        const envelope = parseEnvelope(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        if (!envelope.ok) return refuse(res, 400, 'bad_envelope', envelope.error.message)
        const opened = await openJson([keys], envelope.value, JOB_REQUEST_INFO)
        if (!opened.ok) return refuse(res, 400, 'decrypt_failed', opened.error.message)
        if (
          typeof opened.value === 'object' &&
          opened.value !== null &&
          'sponsored' in opened.value
        ) {
          const s = parseSponsoredSubmission(opened.value)
          if (!s.ok) return refuse(res, 400, 'invalid_body', s.error.message)
          if (!verifySponsoredSubmission(s.value).ok)
            return refuse(
              res,
              403,
              'bad_signature',
              'the sponsored request signature does not verify',
            )
          const id = s.value.request.requestId
          sponsored.push(s.value)
          jobs.set(id, {
            submission: s.value,
            polls: 0,
            result: null,
            createdAt: new Date().toISOString(),
          })
          send(res, 202, { jobId: id, status: 'triggered', pipelineId: 4242 })
          return
        }
        const parsed = parseJobSubmission(opened.value)
        if (!parsed.ok) return refuse(res, 400, 'invalid_body', parsed.error.message)
        if (!verifyVoucher(parsed.value.voucher).ok) {
          return refuse(res, 403, 'bad_signature', 'the voucher signature does not verify')
        }
        const id = parsed.value.request.requestId
        if (jobs.has(id)) return refuse(res, 409, 'replayed', 'this request id was already used')
        received.push({ envelope: envelope.value, submission: parsed.value })
        jobs.set(id, {
          submission: parsed.value,
          polls: 0,
          result: null,
          createdAt: new Date().toISOString(),
        })
        send(res, 202, { jobId: id, status: 'triggered', pipelineId: 4242 })
        return
      }
      const job = /^\/v1\/jobs\/([0-9a-f]{32})$/.exec(url.pathname)
      if (req.method === 'GET' && job) {
        const j = jobs.get(job[1]!)
        if (!j) return refuse(res, 404, 'not_found', 'no such job')
        j.polls++
        // The pipeline advances as GitLab's webhooks would report it: triggered, running, success.
        const status = j.polls < 2 ? 'triggered' : j.polls < 3 ? 'running' : 'success'
        if (status === 'success' && !j.result) {
          const own = await opts.complete(j.submission)
          j.result = double.handBack ?? own
          double.handBack = null
        }
        const at = (n: number) => new Date(Date.parse(j.createdAt) + n * 1000).toISOString()
        const history = [
          { status: 'queued', at: at(0), source: 'worker' },
          { status: 'triggered', at: at(0), source: 'worker' },
          ...(j.polls >= 2 ? [{ status: 'running', at: at(1), source: 'gitlab' }] : []),
          ...(j.polls >= 3 ? [{ status: 'success', at: at(2), source: 'gitlab' }] : []),
          ...(j.result
            ? [
                {
                  status: 'result_reported',
                  at: at(3),
                  source: 'runner',
                  detail: j.result.bundleCid,
                },
              ]
            : []),
        ]
        send(res, 200, {
          jobId: job[1],
          service: j.submission.request.service,
          user: j.submission.request.user,
          status,
          createdAt: j.createdAt,
          updatedAt: new Date().toISOString(),
          pipeline: {
            id: 4242,
            projectId: 7,
            webUrl: double.pipelineUrl,
          },
          history,
          result: j.result
            ? {
                bundleCid: j.result.bundleCid,
                manifestDigest: toHex(manifestDigest(j.result.manifest)),
                runner: j.result.runner,
                signature: j.result.signature,
                exitCode: j.result.manifest.exitCode,
              }
            : null,
        })
        return
      }
      refuse(res, 404, 'not_found', 'no such route')
    } catch (e) {
      refuse(res, 500, 'internal', e instanceof Error ? e.message : String(e))
    }
  })
  const double: WorkerDouble = {
    ...(await listen(server)),
    keys,
    received,
    sponsored,
    grants,
    handBack: null,
    pipelineUrl: 'http://127.0.0.1:1/zkrunner/demo/-/pipelines/4242',
  }
  return double
}

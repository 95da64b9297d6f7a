import Client from 'mina-signer'
import {
  hpkeKeyPairOf,
  JOB_REQUEST_INFO,
  openJson,
  parseEnvelope,
  parseJobSubmission,
  unwrap,
  verifyVoucher,
  voucherMessage,
} from '../protocol/index.ts'
import type { Env } from '../worker/env.ts'
import { app } from '../worker/index.ts'

// A bench-only Worker, run in the same workerd as the edge oracle: each route does one stage of
// POST /v1/jobs on a body the bench sends, so the bench can read that stage's CPU from workerd's
// threads (workerd's clocks stand still while a request computes, so the Worker cannot time it).
// `/noop` reads and parses the body like the others: the HTTP baseline to subtract; `/parse`
// adds the submission's schema parse, the baseline of the two verify routes (on batches). The Worker's
// config (keys) is resolved per request here as in worker/config.ts: HPKE key import is cached.
// Runs in workerd, so it is type-checked with the Worker (worker/tsconfig.json), not with Node.
// `/v1/*` is the edge oracle's own app, with the service's Durable Object answered by a double:
// the whole invocation a POST /v1/jobs costs before admission (routing, CORS, reading the body,
// config, decrypt, parse, verify, the call), against `/empty`, which does not read the body.

type StagesEnv = Env & { HPKE_PRIVATE_KEY: string }

const reference = new Client({ network: 'testnet' })

/** A SERVICES namespace whose objects admit every submission at once (no storage, no calls). */
const admitAll = {
  idFromName: (name: string) => name,
  get: () => ({
    submit: async (submission: { request: { requestId: string } }) => ({
      ok: true,
      value: { jobId: submission.request.requestId, status: 'queued', pipelineId: null },
    }),
  }),
}

// One front env per env the runtime passes, so the Worker's config cache behaves as in the oracle.
const frontEnvs = new WeakMap<object, Env>()
const frontEnv = (env: Env): Env => {
  let front = frontEnvs.get(env)
  if (!front) {
    front = { ...env, SERVICES: admitAll as unknown as Env['SERVICES'] }
    frontEnvs.set(env, front)
  }
  return front
}

export default {
  async fetch(request: Request, env: StagesEnv, ctx: ExecutionContext): Promise<Response> {
    const stage = new URL(request.url).pathname
    if (stage === '/empty') return new Response('ok')
    if (stage.startsWith('/v1/')) return app.fetch(request, frontEnv(env), ctx)
    const body: unknown = JSON.parse(await request.text())
    if (stage === '/noop') return new Response('ok')
    if (stage === '/decrypt' || stage === '/stateless') {
      const keys = [unwrap(hpkeKeyPairOf(env.HPKE_PRIVATE_KEY))]
      const opened = unwrap(await openJson(keys, unwrap(parseEnvelope(body)), JOB_REQUEST_INFO))
      // `/stateless` is all the Worker computes for POST /v1/jobs before it hands the request
      // to the service's Durable Object (a separate invocation, with its own CPU budget).
      if (stage === '/stateless') unwrap(verifyVoucher(unwrap(parseJobSubmission(opened)).voucher))
      return new Response('ok')
    }
    // The verify routes take a batch of opened submissions, each with its own voucher: one voucher
    // verifies in less CPU than the per-request noise, so a batch of them is measured at once.
    const vouchers = (body as unknown[]).map((s) => unwrap(parseJobSubmission(s)).voucher)
    // `/parse` is what /verify and /verify-mina-signer share before either verifier runs.
    if (stage === '/parse') return new Response('ok')
    if (stage === '/verify') {
      for (const voucher of vouchers) unwrap(verifyVoucher(voucher))
      return new Response('ok')
    }
    if (stage === '/verify-mina-signer') {
      for (const voucher of vouchers) {
        const data = voucherMessage({
          service: voucher.service,
          cumulativeAmount: BigInt(voucher.cumulativeAmount),
          nonce: BigInt(voucher.nonce),
        })
        const ok = reference.verifyFields({
          data,
          signature: voucher.signature,
          publicKey: voucher.user,
        })
        if (!ok) return new Response('bad', { status: 403 })
      }
      return new Response('ok')
    }
    return new Response('no such stage', { status: 404 })
  },
}

import { Field, PublicKey, Signature } from 'o1js'
import { describe, expect, test } from 'vitest'
import { canonicalJson } from './encoding.ts'
import { generateHpkeKeyPair, sealJson, TRIGGER_TOKEN_INFO } from './envelope.ts'
import { ProtocolErrorCode } from './errors.ts'
import { parseJobSubmission } from './job-request.ts'
import { voucherMessage } from './messages.ts'
import { parseJsonWith } from './parse.ts'
import {
  parseResultManifest,
  ResultManifestSchema,
  signManifest,
  verifyManifest,
} from './result-manifest.ts'
import { parseResultReport, signResultReport, verifyResultReport } from './result-report.ts'
import { parseServiceDescriptor } from './service-descriptor.ts'
import {
  parseServiceRegistration,
  signServiceRegistration,
  verifyServiceRegistration,
} from './service-registration.ts'
import { descriptor, keys, manifest, voucher } from './vectors/inputs.ts'
import { parseVoucher, signVoucher, verifyVoucher } from './voucher.ts'

const request = {
  v: 1 as const,
  service: keys.service.publicKey,
  user: keys.user.publicKey,
  requestId: 'ffeeddccbbaa99887766554433221100',
  parameters: { LIMIT: 100 },
  expiresAt: 1_900_000_000,
}

describe('round trips: every message survives JSON and parses back equal', () => {
  test.each([
    ['descriptor', descriptor, parseServiceDescriptor],
    ['voucher', signVoucher(voucher, keys.user.privateKey), parseVoucher],
    ['manifest', manifest, parseResultManifest],
    [
      'submission',
      { request, voucher: signVoucher(voucher, keys.user.privateKey) },
      parseJobSubmission,
    ],
  ] as const)('%s', (_name, value, parse) => {
    expect(parse(JSON.parse(canonicalJson(value)))).toEqual({ ok: true, value })
  })

  test('result report', () => {
    const sig = signManifest(manifest, keys.runner.privateKey)
    const signed = {
      service: manifest.service,
      jobId: manifest.jobId,
      bundleCid: manifest.files[0]!.cid,
      manifestDigest: sig.digest,
      exitCode: 0,
    }
    const report = {
      v: 2 as const,
      jobId: signed.jobId,
      bundleCid: signed.bundleCid,
      manifestDigest: signed.manifestDigest,
      runner: sig.runner,
      signature: signResultReport(signed, keys.runner.privateKey),
      exitCode: 0,
    }
    expect(parseResultReport(report)).toEqual({ ok: true, value: report })
    expect(verifyResultReport(report, manifest.service)).toEqual({ ok: true, value: true })
    // The signature binds the job and the service: replayed elsewhere, it does not verify.
    const elsewhere = { ...report, jobId: 'f'.repeat(32) }
    expect(verifyResultReport(elsewhere, manifest.service).ok).toBe(false)
    expect(verifyResultReport(report, keys.user.publicKey).ok).toBe(false)
    // It binds how the job ended: a charged job cannot be re-labelled lost, or the reverse.
    expect(verifyResultReport({ ...report, signal: 'agent-lost' }, manifest.service).ok).toBe(false)
    expect(verifyResultReport({ ...report, exitCode: 1 }, manifest.service).ok).toBe(true)
  })
})

describe('signatures over messages', () => {
  test('a voucher verifies, in mina-signer and in o1js, and not once altered', () => {
    const signed = signVoucher(voucher, keys.user.privateKey)
    expect(verifyVoucher(signed).ok).toBe(true)
    const msg = voucherMessage({ service: voucher.service, cumulativeAmount: 3000000n, nonce: 3n })
    const o1 = Signature.fromBase58(signed.signature).verify(
      PublicKey.fromBase58(voucher.user),
      msg.map((f) => Field(f)),
    )
    expect(o1.toBoolean()).toBe(true)
    const raised = verifyVoucher({ ...signed, cumulativeAmount: '3000001' })
    expect(!raised.ok && [raised.error.code, raised.error.path]).toEqual([
      'BAD_SIGNATURE',
      ['signature'],
    ])
  })

  test('a manifest signature binds every byte of the manifest', () => {
    const sig = signManifest(manifest, keys.runner.privateKey)
    expect(verifyManifest(manifest, sig).ok).toBe(true)
    const altered = { ...manifest, exitCode: 1 }
    const r = verifyManifest(altered, sig)
    expect(!r.ok && r.error.path).toEqual(['digest'])
    const forged = signManifest(manifest, keys.user.privateKey)
    const f = verifyManifest(manifest, { ...forged, runner: manifest.runner })
    expect(!f.ok && f.error.code).toBe('BAD_SIGNATURE')
  })

  test('a service registration is signed by the descriptor runner key', async () => {
    const worker = await generateHpkeKeyPair()
    const body = {
      v: 1 as const,
      service: keys.service.publicKey,
      descriptor,
      descriptorCid: manifest.files[0]!.cid,
      triggerToken: await sealJson(worker.publicKey, TRIGGER_TOKEN_INFO, { token: 'glptt-secret' }),
    }
    const reg = signServiceRegistration(body, keys.runner.privateKey)
    expect(parseServiceRegistration(JSON.parse(JSON.stringify(reg))).ok).toBe(true)
    expect(verifyServiceRegistration(reg).ok).toBe(true)
    const byStranger = signServiceRegistration(body, keys.user.privateKey)
    expect(verifyServiceRegistration(byStranger).ok).toBe(false)
  })
})

describe('bad input: a typed error with a stable code and the path', () => {
  const signed = signVoucher(voucher, keys.user.privateKey)
  const cases: Array<
    [
      string,
      () => { ok: boolean; error?: { code: string; path: readonly unknown[] } },
      string,
      unknown[],
    ]
  > = [
    ['malformed JSON', () => parseJsonWith(ResultManifestSchema, '{"v":1,'), 'MALFORMED_JSON', []],
    [
      'missing nested field',
      () =>
        parseResultManifest({ ...manifest, sampling: { ...manifest.sampling, source: undefined } }),
      'MISSING_FIELD',
      ['sampling', 'source'],
    ],
    ['unknown field', () => parseVoucher({ ...signed, extra: true }), 'UNKNOWN_FIELD', ['extra']],
    [
      'amount as a JSON number',
      () => parseVoucher({ ...signed, cumulativeAmount: 5 }),
      'INVALID_FIELD',
      ['cumulativeAmount'],
    ],
    [
      'amount beyond 64 bits',
      () => parseVoucher({ ...signed, nonce: '18446744073709551616' }),
      'INVALID_FIELD',
      ['nonce'],
    ],
    [
      'bad public key',
      () => parseVoucher({ ...signed, user: 'B62qnotakey' }),
      'INVALID_FIELD',
      ['user'],
    ],
    [
      'bad file path',
      () =>
        parseResultManifest({
          ...manifest,
          files: [{ ...manifest.files[0], path: '../etc/passwd' }],
        }),
      'INVALID_FIELD',
      ['files', 0, 'path'],
    ],
    [
      'bad CID',
      () => parseResultManifest({ ...manifest, files: [{ ...manifest.files[0], cid: 'nope' }] }),
      'INVALID_FIELD',
      ['files', 0, 'cid'],
    ],
    [
      'short request id',
      () => parseJobSubmission({ request: { ...request, requestId: 'abc' }, voucher: signed }),
      'INVALID_FIELD',
      ['request', 'requestId'],
    ],
    [
      'voucher for another service',
      () =>
        parseJobSubmission({
          request: { ...request, service: keys.runner.publicKey },
          voucher: signed,
        }),
      'INVALID_FIELD',
      ['voucher', 'service'],
    ],
    [
      'duplicate parameter names',
      () =>
        parseServiceDescriptor({
          ...descriptor,
          parameters: [descriptor.parameters[0], descriptor.parameters[0]],
        }),
      'INVALID_FIELD',
      ['parameters'],
    ],
    [
      'bad commit',
      () => parseServiceDescriptor({ ...descriptor, sourceCommitment: 'main' }),
      'INVALID_FIELD',
      ['sourceCommitment'],
    ],
    ['not an object', () => parseServiceDescriptor(null), 'INVALID_FIELD', []],
  ]
  test.each(cases)('%s', (_name, run, code, path) => {
    const r = run()
    expect(r.ok).toBe(false)
    expect([r.error?.code, r.error?.path]).toEqual([code, path])
  })

  test('every error code is produced by some test in this module', async () => {
    const { readFileSync, readdirSync } = await import('node:fs')
    const dir = new URL('.', import.meta.url)
    const texts = readdirSync(dir)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => readFileSync(new URL(f, dir), 'utf8'))
      .join('\n')
    for (const code of Object.values(ProtocolErrorCode)) expect(texts, code).toContain(`'${code}'`)
  })
})

import { describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  generateMinaKeyPair,
  JOB_REQUEST_INFO,
  openJson,
  parseJobSubmission,
  type ServiceDescriptor,
  verifyVoucher,
} from '../../protocol/index.ts'
import { SiteError } from './errors.ts'
import { buildSealedRequest } from './request.ts'
import { devKeyWallet } from './wallet/dev-key.ts'

async function setup() {
  const worker = await generateHpkeKeyPair()
  const descriptor = {
    v: 1,
    name: 'x',
    description: '',
    provider: 'gitlab',
    providerUrl: 'http://127.0.0.1/',
    project: 'p',
    ref: 'main',
    job: 'test',
    sourceCommitment: 'a'.repeat(40),
    pricePerJob: '5',
    runnerPublicKey: generateMinaKeyPair().publicKey,
    workerPublicKey: worker.publicKey,
    parameters: [{ name: 'N', type: 'integer', min: 1, max: 3, required: true }],
  } satisfies ServiceDescriptor
  return { worker, descriptor, wallet: devKeyWallet(generateMinaKeyPair().privateKey) }
}

describe('buildSealedRequest', () => {
  it('seals a submission the Worker key opens, with a voucher for owed + price', async () => {
    const { worker, descriptor, wallet } = await setup()
    const service = generateMinaKeyPair().publicKey
    const { envelope } = await buildSealedRequest(
      { service, descriptor, values: { N: 2 }, owed: 10n, price: 5n, lastNonce: 0n },
      wallet,
    )
    const opened = await openJson([worker], envelope, JOB_REQUEST_INFO)
    if (!opened.ok) throw opened.error
    const parsed = parseJobSubmission(opened.value)
    if (!parsed.ok) throw parsed.error
    expect(parsed.value.voucher.cumulativeAmount).toBe('15')
    expect(verifyVoucher(parsed.value.voucher).ok).toBe(true)
  })

  // Operators cannot take deposits: the descriptor's price is not bound to the contract's terms,
  // so a descriptor that advertises less than the chain charges must not set what is signed.
  it("signs for the chain's price, not the descriptor's", async () => {
    const { worker, descriptor, wallet } = await setup()
    const service = generateMinaKeyPair().publicKey
    const { envelope } = await buildSealedRequest(
      { service, descriptor, values: { N: 2 }, owed: 10n, price: 7n, lastNonce: 0n },
      wallet,
    )
    const opened = await openJson([worker], envelope, JOB_REQUEST_INFO)
    if (!opened.ok) throw opened.error
    const parsed = parseJobSubmission(opened.value)
    if (!parsed.ok) throw parsed.error
    expect(descriptor.pricePerJob).toBe('5')
    expect(parsed.value.voucher.cumulativeAmount).toBe('17')
  })

  it('refuses parameters outside the schema before signing anything', async () => {
    const { descriptor, wallet } = await setup()
    const service = generateMinaKeyPair().publicKey
    await expect(
      buildSealedRequest(
        { service, descriptor, values: { N: 9 }, owed: 0n, price: 5n, lastNonce: 0n },
        wallet,
      ),
    ).rejects.toBeInstanceOf(SiteError)
  })
})

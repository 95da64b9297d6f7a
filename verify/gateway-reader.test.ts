import { MemoryBlockstore } from 'blockstore-core/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateHpkeKeyPair, newRequestId } from '../protocol/index.ts'
import {
  createVerifiedReader,
  DEFAULT_MAX_FILE_BYTES,
  type VerifiedReader,
} from './gateway-reader.ts'
import { bundleFixture, serviceFixture } from './test-support/bundle-fixture.ts'
import { genuineAccounts, nodePoseidon, TEST_GENUINE } from './test-support/genuine.ts'
import { emptyBook } from './test-support/ledger-double.ts'
import { type RunningServer, startTrustlessGateway } from './test-support/trustless-gateway.ts'
import { verifyResult } from './verify-result.ts'

const blocks = new MemoryBlockstore()
let gateway: RunningServer & { requested: string[] }
let reader: VerifiedReader

beforeAll(async () => {
  gateway = await startTrustlessGateway(blocks)
  reader = await createVerifiedReader([gateway.url])
})
afterAll(async () => {
  await reader?.stop()
  await gateway?.close()
})

describe('createVerifiedReader', () => {
  it('retrieves and verifies a whole bundle from a trustless gateway', async () => {
    const service = await serviceFixture(blocks, {
      workerPublicKey: (await generateHpkeKeyPair()).publicKey,
    })
    const jobId = newRequestId()
    const bundle = await bundleFixture(blocks, service, jobId)
    const { links } = await verifyResult(
      { bundleCid: bundle.cid.toString(), service: service.address, jobId },
      {
        bundle: reader,
        chain: {
          serviceAccounts: async () => genuineAccounts(service.state),
          events: async () => [],
          ledgerBook: emptyBook,
        },
        genuine: TEST_GENUINE,
        poseidon: nodePoseidon,
      },
    )
    expect(links.map((l) => [l.id, l.status])).toEqual([
      ['bundle', 'ok'],
      ['manifest', 'ok'],
      ['files', 'ok'],
      ['signature', 'ok'],
      ['runner', 'ok'],
      ['service', 'ok'],
      ['source', 'ok'],
      ['settled', 'pending'],
      ['inner', 'ok'],
    ])
    expect(gateway.requested).toContain(bundle.cid.toString())
  })
})

describe('the page reads only as much as it should', () => {
  it('refuses a bundle file larger than the per-file limit, and reads it once the limit is raised', async () => {
    const service = await serviceFixture(blocks, {
      workerPublicKey: (await generateHpkeKeyPair()).publicKey,
    })
    const bundle = await bundleFixture(blocks, service, newRequestId())
    let max = 16
    const small = await createVerifiedReader([gateway.url], { maxFileBytes: () => max })
    try {
      await expect(small.readPath(bundle.cid.toString(), 'manifest.json')).rejects.toMatchObject({
        code: 'FILE_TOO_LARGE',
      })
      max = DEFAULT_MAX_FILE_BYTES
      expect((await small.readPath(bundle.cid.toString(), 'manifest.json')).length).toBeGreaterThan(
        16,
      )
    } finally {
      await small.stop()
    }
  })
})

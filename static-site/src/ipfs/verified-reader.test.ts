import { MemoryBlockstore } from 'blockstore-core/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateHpkeKeyPair, newRequestId } from '../../../protocol/index.ts'
import { bundleFixture, serviceFixture } from '../../test/support/bundle-fixture.ts'
import { genuineAccounts, nodePoseidon, TEST_GENUINE } from '../../test/support/genuine.ts'
import { type RunningServer, startTrustlessGateway } from '../../test/support/trustless-gateway.ts'
import { verifyResult } from '../verify/verify-result.ts'
import { createVerifiedReader, type VerifiedReader } from './verified-reader.ts'

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
    ])
    expect(gateway.requested).toContain(bundle.cid.toString())
  })
})

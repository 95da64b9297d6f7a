import { MemoryBlockstore } from 'blockstore-core/memory'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  type InnerJob,
  manifestDigest,
  newRequestId,
  toHex,
} from '../protocol/index.ts'
import {
  bundleFixture,
  requestFixture,
  type ServiceFixture,
  serviceFixture,
} from './test-support/bundle-fixture.ts'
import { genuineAccounts, noAccounts, nodePoseidon, TEST_GENUINE } from './test-support/genuine.ts'
import { emptyBook } from './test-support/ledger-double.ts'
import { memoryBundleReader } from './test-support/memory-bundle-reader.ts'
import { verifyResult } from './verify-result.ts'

// Attack (review of nested results): the inner jobs an outer manifest lists are fetched and
// verified whatever the outer signature says. A stranger's bundle (any bytes, no runner's
// signature) that lists 64 entries, all the largest bundle the stranger can find, makes every
// page, `zkrunner verify` and `zkrunner-agent call` that is handed it fetch and re-hash 64 bundles
// and read the chain 64 times, for a result that is broken at its own signature anyway.

const blocks = new MemoryBlockstore()
let outer: ServiceFixture
let driver: ServiceFixture

beforeAll(async () => {
  const workerPublicKey = (await generateHpkeKeyPair()).publicKey
  outer = await serviceFixture(blocks, { workerPublicKey, name: 'compare optimisation levels' })
  driver = await serviceFixture(blocks, { workerPublicKey, name: 'sample primes' })
})

describe('nested results: a bundle whose own signature fails', () => {
  it('makes no inner verification (nothing of its inner jobs is fetched)', async () => {
    const jobId = newRequestId()
    const innerBundle = await bundleFixture(blocks, driver, jobId, 'good', {
      ...requestFixture(driver, jobId, outer.runner.publicKey),
      callPath: [outer.address],
    })
    const entry: InnerJob = {
      service: driver.address,
      jobId,
      bundleCid: innerBundle.cid.toString(),
      manifestDigest: toHex(manifestDigest(innerBundle.manifest)),
    }
    const outerId = newRequestId()
    const forged = await bundleFixture(
      blocks,
      outer,
      outerId,
      'wrong-signature',
      requestFixture(outer, outerId),
      Array.from({ length: 64 }, () => entry),
    )
    const reader = memoryBundleReader(blocks)
    const roots = new Set<string>()
    const o = await verifyResult(
      { bundleCid: forged.cid.toString(), service: outer.address, jobId: outerId },
      {
        bundle: {
          readPath: (root: string, path: string) => {
            roots.add(root)
            return reader.readPath(root, path)
          },
          readCid: (cid: string) => reader.readCid(cid),
        },
        chain: {
          serviceAccounts: async (address: string) => {
            const s = [outer, driver].find((f) => f.address === address)
            return s ? genuineAccounts(s.state) : noAccounts(address)
          },
          events: async () => [],
          ledgerBook: emptyBook,
        },
        genuine: TEST_GENUINE,
        poseidon: nodePoseidon,
      },
    )
    expect(o.links.find((l) => l.id === 'signature')?.status).toBe('broken')
    expect([...roots]).toEqual([forged.cid.toString()])
    expect(o.inner).toEqual([])
  })
})

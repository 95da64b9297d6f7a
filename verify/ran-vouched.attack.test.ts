import { MemoryBlockstore } from 'blockstore-core/memory'
import { describe, expect, it } from 'vitest'
import { generateHpkeKeyPair, generateMinaKeyPair, newRequestId } from '../protocol/index.ts'
import { ranVouched } from './ran.ts'
import { bundleFixture, requestFixture, serviceFixture } from './test-support/bundle-fixture.ts'
import { genuineAccounts, nodePoseidon, TEST_GENUINE } from './test-support/genuine.ts'
import { emptyBook } from './test-support/ledger-double.ts'
import { memoryBundleReader } from './test-support/memory-bundle-reader.ts'
import { verifyResult } from './verify-result.ts'

// Attack (review of the log cap's display): the page and `zkrunner verify` show the manifest's
// `ran` and `truncatedLogs` only when ranVouched says "the manifest and its signature hold", so
// that not anyone could have written them. But the signature link holds for any key the manifest
// names as its runner: a stranger signs a bundle with a key of their own, and its claims ("stdout
// truncated by the runner, 1 GB dropped", a command line) are shown as the runner's word.

describe('ranVouched: a manifest signed by a key that is not the service runner', () => {
  it("is not vouched for, though its signature verifies under the stranger's own key", async () => {
    const blocks = new MemoryBlockstore()
    const service = await serviceFixture(blocks, {
      workerPublicKey: (await generateHpkeKeyPair()).publicKey,
    })
    const stranger = { ...service, runner: generateMinaKeyPair() }
    const jobId = newRequestId()
    const bundle = await bundleFixture(
      blocks,
      stranger,
      jobId,
      'truncated-logs',
      requestFixture(stranger, jobId),
    )
    const o = await verifyResult(
      { bundleCid: bundle.cid.toString(), service: service.address, jobId },
      {
        bundle: memoryBundleReader(blocks),
        chain: {
          serviceAccounts: async () => genuineAccounts(service.state),
          events: async () => [],
          ledgerBook: emptyBook,
        },
        genuine: TEST_GENUINE,
        poseidon: nodePoseidon,
      },
    )
    const status = Object.fromEntries(o.links.map((l) => [l.id, l.status]))
    expect(status).toMatchObject({ signature: 'ok', runner: 'broken' })
    expect(o.manifest?.truncatedLogs?.length).toBeGreaterThan(0)
    expect(ranVouched(o.links)).toBe(false)
  })
})

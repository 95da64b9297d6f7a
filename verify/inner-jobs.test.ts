import { MemoryBlockstore } from 'blockstore-core/memory'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  generateMinaKeyPair,
  type InnerJob,
  manifestDigest,
  newRequestId,
  toHex,
} from '../protocol/index.ts'
import { contentVerified } from './links.ts'
import {
  type BundleVariant,
  bundleFixture,
  requestFixture,
  type ServiceFixture,
  serviceFixture,
} from './test-support/bundle-fixture.ts'
import { genuineAccounts, noAccounts, nodePoseidon, TEST_GENUINE } from './test-support/genuine.ts'
import { emptyBook } from './test-support/ledger-double.ts'
import { memoryBundleReader } from './test-support/memory-bundle-reader.ts'
import { verifyResult } from './verify-result.ts'

// A higher-order job's manifest lists the driver jobs it used; the verifier checks each as any
// result, that it is the one the outer runner signed for, and that the outer runner paid for it.

const blocks = new MemoryBlockstore()
let outer: ServiceFixture
let driver: ServiceFixture

beforeAll(async () => {
  const workerPublicKey = (await generateHpkeKeyPair()).publicKey
  outer = await serviceFixture(blocks, { workerPublicKey, name: 'compare optimisation levels' })
  driver = await serviceFixture(blocks, { workerPublicKey, name: 'sample primes' })
})

const deps = () => ({
  bundle: memoryBundleReader(blocks),
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
})

/** A driver job the outer runner requested (its user), as `variant`; the entry listing it. */
async function innerJob(variant: BundleVariant = 'good', user = outer.runner.publicKey) {
  const jobId = newRequestId()
  const bundle = await bundleFixture(blocks, driver, jobId, variant, {
    ...requestFixture(driver, jobId, user),
    callPath: [outer.address],
  })
  const entry: InnerJob = {
    service: driver.address,
    jobId,
    bundleCid: bundle.cid.toString(),
    manifestDigest: toHex(manifestDigest(bundle.manifest)),
  }
  return entry
}

async function verifyOuter(innerJobs: InnerJob[]) {
  const jobId = newRequestId()
  const bundle = await bundleFixture(
    blocks,
    outer,
    jobId,
    'good',
    requestFixture(outer, jobId),
    innerJobs,
  )
  return verifyResult({ bundleCid: bundle.cid.toString(), service: outer.address, jobId }, deps())
}

const linkOf = (o: Awaited<ReturnType<typeof verifyOuter>>) => o.links.find((l) => l.id === 'inner')

describe('nested results: the inner jobs a manifest lists', () => {
  it('a result with no inner jobs holds the link, saying so', async () => {
    const o = await verifyOuter([])
    expect(linkOf(o)).toMatchObject({ status: 'ok', detail: 'no inner jobs' })
    expect(o.inner).toEqual([])
  })

  it('verifies each inner job as any result, and returns the tree', async () => {
    const a = await innerJob()
    const b = await innerJob()
    const o = await verifyOuter([a, b])
    expect(linkOf(o)).toMatchObject({ status: 'ok', detail: '2 inner job(s) verified' })
    expect(contentVerified(o.links)).toBe(true)
    expect(o.inner.map((i) => i.job.jobId)).toEqual([a.jobId, b.jobId])
    const inner = Object.fromEntries(o.inner[0]!.outcome.links.map((l) => [l.id, l.status]))
    expect(inner).toMatchObject({ bundle: 'ok', files: 'ok', signature: 'ok', runner: 'ok' })
  })

  it('a tampered inner bundle breaks the link, naming the inner job and its broken link', async () => {
    const good = await innerJob()
    const tampered = await innerJob('tampered-file')
    const o = await verifyOuter([good, tampered])
    const l = linkOf(o)
    expect(l?.status).toBe('broken')
    expect(l?.detail).toContain(
      `inner job ${tampered.jobId} of ${driver.address}: link "files" broken`,
    )
    expect(l?.detail).not.toContain(good.jobId)
    expect(contentVerified(o.links)).toBe(false)
    expect(o.inner[1]?.outcome.links.find((x) => x.id === 'files')?.status).toBe('broken')
  })

  it('an inner signature by another key breaks the link at "signature"', async () => {
    const o = await verifyOuter([await innerJob('wrong-signature')])
    expect(linkOf(o)?.detail).toContain('link "signature" broken')
  })

  it('an entry whose digest is not the inner manifest’s breaks the link', async () => {
    const entry = await innerJob()
    const o = await verifyOuter([{ ...entry, manifestDigest: 'ab'.repeat(32) }])
    expect(linkOf(o)?.status).toBe('broken')
    expect(linkOf(o)?.detail).toContain(`the outer manifest lists ${'ab'.repeat(32)}`)
  })

  it('an inner job someone else paid for is not this runner’s call', async () => {
    const o = await verifyOuter([await innerJob('good', generateMinaKeyPair().publicKey)])
    expect(linkOf(o)?.status).toBe('broken')
    expect(linkOf(o)?.detail).toContain('not by the outer runner')
  })

  it('verifies at most a bounded number of inner jobs in the whole tree (a hostile fan-out)', async () => {
    const a = await innerJob()
    const b = await innerJob()
    const jobId = newRequestId()
    const bundle = await bundleFixture(blocks, outer, jobId, 'good', requestFixture(outer, jobId), [
      a,
      b,
    ])
    let reads = 0
    const reader = memoryBundleReader(blocks)
    const counting = {
      readPath: (root: string, path: string) => {
        reads++
        return reader.readPath(root, path)
      },
      readCid: (cid: string) => reader.readCid(cid),
    }
    const o = await verifyResult(
      { bundleCid: bundle.cid.toString(), service: outer.address, jobId },
      { ...deps(), bundle: counting, innerBudget: { left: 1 } },
    )
    expect(linkOf(o)).toMatchObject({ status: 'broken' })
    expect(linkOf(o)?.detail).toContain('more than')
    // Only the outer bundle was read: the two inner ones were never fetched.
    const outerReads = 2 + bundle.manifest.files.length
    expect(reads).toBe(outerReads)
  })
})

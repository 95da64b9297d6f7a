import { MemoryBlockstore } from 'blockstore-core/memory'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  manifestDigest,
  newRequestId,
  publicKeyToFields,
  unwrap,
} from '../../../protocol/index.ts'
import {
  type BundleVariant,
  bundleFixture,
  type ServiceFixture,
  serviceFixture,
} from '../../test/support/bundle-fixture.ts'
import { memoryBundleReader } from '../../test/support/memory-bundle-reader.ts'
import type { ChainEvent } from '../chain-reader.ts'
import { firstBroken, type VerificationLink } from './links.ts'
import { computeResultsRoot } from './results-root.ts'
import { type SettledResults, type VerifyDeps, verifyResult } from './verify-result.ts'

const blocks = new MemoryBlockstore()
let service: ServiceFixture

beforeAll(async () => {
  service = await serviceFixture(blocks, {
    workerPublicKey: (await generateHpkeKeyPair()).publicKey,
  })
})

const chainWith = (events: ChainEvent[] = [], state?: bigint[] | null): VerifyDeps['chain'] => ({
  zkappState: async (address) =>
    address === service.address ? (state === undefined ? service.state : state) : null,
  events: async () => events,
})

async function verify(variant: BundleVariant, deps: Partial<VerifyDeps> = {}) {
  const jobId = newRequestId()
  const bundle = await bundleFixture(blocks, service, jobId, variant)
  const outcome = await verifyResult(
    { bundleCid: bundle.cid.toString(), service: service.address, jobId },
    { bundle: memoryBundleReader(blocks), chain: chainWith(), ...deps },
  )
  return { ...outcome, bundle }
}

const statuses = (links: VerificationLink[]) =>
  Object.fromEntries(links.map((l) => [l.id, l.status]))

describe('verifyResult', () => {
  it('passes every link of a good bundle, with settlement pending before any settle event', async () => {
    const { links, files } = await verify('good')
    expect(statuses(links)).toEqual({
      bundle: 'ok',
      manifest: 'ok',
      files: 'ok',
      signature: 'ok',
      runner: 'ok',
      service: 'ok',
      source: 'ok',
      settled: 'pending',
    })
    expect([...files.keys()].sort()).toEqual(['samples.jsonl', 'stderr.log', 'stdout.log'])
  })

  it('names the files link and the edited file for a tampered bundle', async () => {
    const { links } = await verify('tampered-file')
    expect(firstBroken(links)?.id).toBe('files')
    expect(firstBroken(links)?.detail).toContain('stdout.log')
    expect(links.filter((l) => l.status === 'broken')).toHaveLength(1)
  })

  it('names the signature link when the runner did not sign this manifest', async () => {
    const { links } = await verify('wrong-signature')
    expect(links.filter((l) => l.status === 'broken').map((l) => l.id)).toEqual(['signature'])
  })

  it('names the source link when the manifest claims another source commitment', async () => {
    const { links } = await verify('wrong-source')
    expect(links.filter((l) => l.status === 'broken').map((l) => l.id)).toEqual(['source'])
    expect(firstBroken(links)?.detail).toContain(service.sourceCommitment)
  })

  it('names the bundle link when the CID cannot be retrieved', async () => {
    const { links } = await verify('good', {
      bundle: { ...memoryBundleReader(new MemoryBlockstore()) },
    })
    expect(firstBroken(links)?.id).toBe('bundle')
    expect(links.slice(1).every((l) => l.status === 'pending')).toBe(true)
  })

  it('names the service link when no service contract lives at the address', async () => {
    const { links } = await verify('good', { chain: chainWith([], null) })
    expect(firstBroken(links)?.id).toBe('service')
  })

  it('names the manifest link when the manifest is for another job', async () => {
    const bundle = await bundleFixture(blocks, service, newRequestId())
    const { links } = await verifyResult(
      { bundleCid: bundle.cid.toString(), service: service.address, jobId: newRequestId() },
      { bundle: memoryBundleReader(blocks), chain: chainWith() },
    )
    expect(firstBroken(links)?.id).toBe('manifest')
  })

  describe('settlement', () => {
    const settleEvent = (jobs: bigint, root: bigint): ChainEvent => {
      const [ux, uOdd] = unwrap(publicKeyToFields(service.user.publicKey))
      return { height: 5, slot: 50, data: [3n, ux, uOdd, 5n, 1n, 5n, jobs, root] }
    }
    const settledOf = (digests: Uint8Array[]): SettledResults => ({
      digests: async () => digests,
      root: async (d) => computeResultsRoot(d),
    })

    it('is ok when the digest is a leaf of the settled root', async () => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      const digest = manifestDigest(bundle.manifest)
      const root = computeResultsRoot([digest])
      const { links } = await verifyResult(
        { bundleCid: bundle.cid.toString(), service: service.address, jobId },
        {
          bundle: memoryBundleReader(blocks),
          chain: chainWith([settleEvent(1n, root)]),
          settled: settledOf([digest]),
        },
      )
      expect(links.find((l) => l.id === 'settled')).toMatchObject({ status: 'ok' })
    })

    it('is broken when the settled root does not cover the digest', async () => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      const digest = manifestDigest(bundle.manifest)
      const { links } = await verifyResult(
        { bundleCid: bundle.cid.toString(), service: service.address, jobId },
        {
          bundle: memoryBundleReader(blocks),
          chain: chainWith([settleEvent(1n, 12345n)]),
          settled: settledOf([digest]),
        },
      )
      expect(firstBroken(links)?.id).toBe('settled')
    })

    it('stays pending when the job comes after the settled ones', async () => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      const other = new Uint8Array(32).fill(7)
      const { links } = await verifyResult(
        { bundleCid: bundle.cid.toString(), service: service.address, jobId },
        {
          bundle: memoryBundleReader(blocks),
          chain: chainWith([settleEvent(1n, computeResultsRoot([other]))]),
          settled: settledOf([other, manifestDigest(bundle.manifest)]),
        },
      )
      expect(links.find((l) => l.id === 'settled')).toMatchObject({ status: 'pending' })
    })
  })
})

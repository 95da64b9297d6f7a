import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  newRequestId,
  type SourceReveal,
  sha256,
  sourceRevealBytes,
} from '../protocol/index.ts'
import {
  bundleFixture,
  PRIVATE_OPENING,
  type ServiceFixture,
  serviceFixture,
} from './test-support/bundle-fixture.ts'
import { genuineAccounts, noAccounts, nodePoseidon, TEST_GENUINE } from './test-support/genuine.ts'
import { emptyBook } from './test-support/ledger-double.ts'
import { memoryBundleReader } from './test-support/memory-bundle-reader.ts'
import type { VerifyDeps } from './verify-result.ts'
import { verifyResult } from './verify-result.ts'

// A private service's results verify like any other's; only the source link differs: committed
// (neither ✓ nor ✗) until the operator reveals, then checked against the reveal, for old results too.

const blocks = new MemoryBlockstore()
let service: ServiceFixture
let pastBundle: { cid: string; jobId: string }

beforeAll(async () => {
  service = await serviceFixture(blocks, {
    workerPublicKey: (await generateHpkeKeyPair()).publicKey,
    visibility: 'private',
  })
  const jobId = newRequestId()
  pastBundle = { cid: (await bundleFixture(blocks, service, jobId, 'good')).cid.toString(), jobId }
})

async function pin(bytes: Uint8Array): Promise<string> {
  const cid = CID.createV1(0x55, createDigest(0x12, sha256(bytes)))
  await blocks.put(cid, bytes)
  return cid.toString()
}

const reveal = (): SourceReveal => ({
  v: 1,
  kind: 'zkrunner/source-reveal',
  service: service.address,
  commitment: service.sourceCommitment,
  provider: 'gitlab',
  ref: 'main',
  job: 'test',
  ...PRIVATE_OPENING,
})

async function verifyPast(reveals: string[]) {
  const deps: VerifyDeps = {
    bundle: memoryBundleReader(blocks),
    chain: {
      serviceAccounts: async (a) =>
        a === service.address ? genuineAccounts(service.state) : noAccounts(),
      events: async () => [],
      ledgerBook: emptyBook,
    },
    genuine: TEST_GENUINE,
    poseidon: nodePoseidon,
    reveals: async (s) => (s === service.address ? reveals : []),
  }
  const { links } = await verifyResult(
    { bundleCid: pastBundle.cid, service: service.address, jobId: pastBundle.jobId },
    deps,
  )
  return Object.fromEntries(links.map((l) => [l.id, l]))
}

describe('the source link of a private service', () => {
  it('reads "private (committed)", neither passed nor failed, while every other link verifies', async () => {
    const links = await verifyPast([])
    expect(links.source).toMatchObject({ status: 'pending' })
    expect(links.source?.detail).toMatch(/^private \(committed\): poseidon:[0-9a-f]{64}$/)
    for (const id of ['bundle', 'manifest', 'files', 'signature', 'runner', 'service'])
      expect(links[id]?.status).toBe('ok')
  })

  it('verifies for a result made before the reveal, once the reveal opens the commitment', async () => {
    const cid = await pin(sourceRevealBytes(reveal()))
    const links = await verifyPast([cid])
    expect(links.source).toMatchObject({ status: 'ok' })
    expect(links.source?.detail).toContain(`revealed (${cid})`)
    expect(links.source?.detail).toContain(PRIVATE_OPENING.project)
  })

  it('is a broken link, naming the reveal, when the reveal opens nothing', async () => {
    const cid = await pin(sourceRevealBytes({ ...reveal(), commit: 'f'.repeat(40) }))
    const older = await pin(sourceRevealBytes(reveal()))
    // The newest listing counts: an earlier good reveal does not hide a later wrong one.
    const links = await verifyPast([cid, older])
    expect(links.source).toMatchObject({ status: 'broken' })
    expect(links.source?.detail).toContain(cid)
    expect(links.source?.detail).toMatch(/do not open the commitment/)
  })

  it('is a broken link when the listed document is not a reveal', async () => {
    const cid = await pin(new TextEncoder().encode('{"v":1,"kind":"something else"}'))
    const links = await verifyPast([cid])
    expect(links.source).toMatchObject({ status: 'broken' })
    expect(links.source?.detail).toContain(`reveal ${cid} is not a reveal document`)
  })
})

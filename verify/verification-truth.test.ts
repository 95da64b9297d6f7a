import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  cidToFields,
  generateHpkeKeyPair,
  generateMinaKeyPair,
  LedgerState,
  ledgerAddressOf,
  manifestDigest,
  newRequestId,
  publicKeyToFields,
  ServiceState,
  type SettledLeaves,
  settledLeavesBytes,
  settledLeavesCid,
  sha256,
  toHex,
  unwrap,
} from '../protocol/index.ts'
import { type ChainEvent, GraphqlChainReader } from './chain-reader.ts'
import { contentVerified, type VerificationLink } from './links.ts'
import { computeResultsRoot } from './results-root.ts'
import { settledResultsFrom } from './settled-leaves.ts'
import { readSettlement } from './settlement.ts'
import {
  bundleFixture,
  requestFixture,
  type ServiceFixture,
  serviceFixture,
} from './test-support/bundle-fixture.ts'
import { genuineAccounts, noAccounts, nodePoseidon, TEST_GENUINE } from './test-support/genuine.ts'
import { startGraphqlDouble } from './test-support/graphql-double.ts'
import { claimData, claimsBook } from './test-support/ledger-double.ts'
import { memoryBundleReader } from './test-support/memory-bundle-reader.ts'
import { type VerifyDeps, type VerifyTarget, verifyResult } from './verify-result.ts'

// Verification tells the truth (issue 13): each attack the second review ran against the page's
// own verifyResult, run again here through the real path. Each fails on the code before the fix.

const blocks = new MemoryBlockstore()
let service: ServiceFixture

beforeAll(async () => {
  service = await serviceFixture(blocks, {
    workerPublicKey: (await generateHpkeKeyPair()).publicKey,
  })
})

const chainWith = (events: ChainEvent[] = [], state?: bigint[]): VerifyDeps['chain'] => ({
  serviceAccounts: async (address) =>
    address === service.address ? genuineAccounts(state ?? service.state) : noAccounts(address),
  events: async () => events,
  ledgerBook: claimsBook(() => events),
})

const statuses = (links: VerificationLink[]) =>
  Object.fromEntries(links.map((l) => [l.id, l.status]))

const run = (target: VerifyTarget, deps: Partial<VerifyDeps> = {}) =>
  verifyResult(target, {
    bundle: memoryBundleReader(blocks),
    chain: chainWith(),
    genuine: TEST_GENUINE,
    poseidon: nodePoseidon,
    ...deps,
  })

describe('verification tells the truth', () => {
  // A genuine, frozen service whose ledger state its key holder wrote before the freeze: the
  // page's own reader (GraphqlChainReader over the node and archive) finds its channels are not
  // what its actions give, and no link holds. Before the solvency check, every link was ✓.
  it('refuses every ✓ for a genuine service whose ledger channels were written before the freeze', async () => {
    const bundle = await bundleFixture(blocks, service, newRequestId())
    const target = { bundleCid: bundle.cid.toString(), service: service.address }
    const data = {
      states: new Map([[service.address, service.state]]),
      balances: new Map(),
      slot: 1n,
      events: new Map(),
    }
    const double = await startGraphqlDouble(data)
    try {
      const chain = new GraphqlChainReader(`${double.url}/graphql`, `${double.url}/archive`)
      const honest = await run(target, { chain })
      expect(statuses(honest.links)).toMatchObject({ service: 'ok', signature: 'ok' })
      const forged = await startGraphqlDouble({
        ...data,
        forgedLedgerState: new Map([[service.address, new Map([[LedgerState.channelsRoot, 7n]])]]),
      })
      try {
        const reader = new GraphqlChainReader(`${forged.url}/graphql`, `${forged.url}/archive`)
        const { links } = await run(target, { chain: reader })
        expect(links.find((l) => l.id === 'service')).toMatchObject({
          status: 'broken',
          detail: expect.stringContaining('CHANNELS_NOT_REBUILT'),
        })
        expect(links.filter((l) => l.status === 'ok')).toEqual([])
      } finally {
        await forged.close()
      }
    } finally {
      await double.close()
    }
  })

  describe('results are bound to requests', () => {
    it('refuses another user’s genuine job handed back for my request', async () => {
      const mine = requestFixture(service, newRequestId())
      // The other user's job is genuine: signed by the runner, for this service, every file intact.
      const theirs = await bundleFixture(
        blocks,
        service,
        mine.requestId,
        'good',
        requestFixture(service, mine.requestId, generateMinaKeyPair().publicKey),
      )
      const { links, files } = await run({
        bundleCid: theirs.cid.toString(),
        service: service.address,
        request: mine,
      })
      expect(links.find((l) => l.id === 'manifest')).toMatchObject({ status: 'broken' })
      expect(links.find((l) => l.id === 'manifest')?.detail).toContain('for user')
      expect(contentVerified(links)).toBe(false)
      // The signature holds: only the binding to the request tells the results apart.
      expect(statuses(links).signature).toBe('ok')
      expect(files.size).toBeGreaterThan(0)
    })

    it('refuses my own other job, or other parameters, by the request digest', async () => {
      const mine = requestFixture(service, newRequestId())
      const bundle = await bundleFixture(blocks, service, mine.requestId, 'good', {
        ...mine,
        parameters: { ...mine.parameters, SUITE: 'integration' },
      })
      const { links } = await run({
        bundleCid: bundle.cid.toString(),
        service: service.address,
        request: mine,
      })
      expect(links.find((l) => l.id === 'manifest')?.detail).toContain('another request')
    })

    it('accepts the job that answers exactly my request', async () => {
      const mine = requestFixture(service, newRequestId())
      const bundle = await bundleFixture(blocks, service, mine.requestId, 'good', mine)
      const { links } = await run({
        bundleCid: bundle.cid.toString(),
        service: service.address,
        request: mine,
      })
      expect(statuses(links)).toMatchObject({ manifest: 'ok', signature: 'ok', runner: 'ok' })
      expect(contentVerified(links)).toBe(true)
    })
  })

  describe('parsing', () => {
    it('refuses a manifest whose signed bytes carry a duplicate key', async () => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId, 'duplicate-key')
      const { links, manifest } = await run({
        bundleCid: bundle.cid.toString(),
        service: service.address,
        jobId,
      })
      expect(links.find((l) => l.id === 'manifest')).toMatchObject({ status: 'broken' })
      expect(links.find((l) => l.id === 'manifest')?.detail).toContain('not the canonical JSON')
      expect(links.some((l) => l.status === 'ok' && l.id !== 'bundle')).toBe(false)
      expect(manifest).toBeNull()
    })

    it('refuses a lone surrogate in a manifest string, deciding every link', async () => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId, 'lone-surrogate')
      const { links } = await run({
        bundleCid: bundle.cid.toString(),
        service: service.address,
        jobId,
      })
      expect(links.find((l) => l.id === 'manifest')).toMatchObject({ status: 'broken' })
      expect(links.find((l) => l.id === 'manifest')?.detail).toContain('lone surrogate')
    })

    it('turns any rejection into a broken link, never an unhandled one', async () => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      const [ux, uOdd] = unwrap(publicKeyToFields(service.user.publicKey))
      const settleEvent: ChainEvent = {
        height: 5,
        slot: 50,
        chainStatus: 'canonical',
        sequence: 0,
        index: 0,
        data: claimData([ux, uOdd], {
          amount: 10n ** 9n,
          nonce: 1n,
          root: 1n,
          count: 1n,
          cid: unwrap(cidToFields(service.descriptorCid)),
        }),
      }
      // A leaves source that answers something that is not a list: a TypeError outside any
      // check of its own. The panel must end on a verdict, not on "Verifying…".
      const outcome = await run(
        { bundleCid: bundle.cid.toString(), service: service.address, jobId },
        {
          chain: chainWith([settleEvent]),
          settled: { digests: async () => undefined as never, root: async () => 0n },
        },
      )
      expect(outcome.links.find((l) => l.id === 'settled')).toMatchObject({ status: 'broken' })
      expect(outcome.links.find((l) => l.id === 'settled')?.detail).toContain('verification failed')
      // Content shown from a run that failed is never presented as checked.
      expect(outcome.manifest).toBeNull()
      expect(outcome.files.size).toBe(0)
    })

    it.each([
      ['a path after the CID', (cid: string) => `${cid}/stdout.log`],
      ['a query after the CID', (cid: string) => `${cid}?format=raw`],
      [
        'a dag-cbor CID',
        () => CID.createV1(0x71, createDigest(0x12, sha256(new Uint8Array(1)))).toString(),
      ],
    ])('refuses a bundle CID with %s at the bundle link', async (_name, spoil) => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      // A reader that would happily follow the path: the CID must be refused before any read.
      const reads: string[] = []
      const reader = memoryBundleReader(blocks)
      const { links } = await run(
        { bundleCid: spoil(bundle.cid.toString()), service: service.address, jobId },
        {
          bundle: {
            readPath: (root, path) => {
              reads.push(root)
              return reader.readPath(root.split(/[/?]/)[0]!, path)
            },
            readCid: reader.readCid,
          },
        },
      )
      expect(links.find((l) => l.id === 'bundle')).toMatchObject({ status: 'broken' })
      expect(reads).toEqual([])
    })

    it('reads no descriptor whose on-chain CID has a codec other than raw or dag-pb', async () => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      const [d0, d1] = [
        service.state[ServiceState.descriptorCid0]!,
        service.state[ServiceState.descriptorCid1]!,
      ]
      const state = [...service.state]
      // The same digest under the dag-json codec (0x0129): the fields decode, the codec does not pass.
      state[ServiceState.descriptorCid0] = (0x0129n << 128n) | (d0 & ((1n << 128n) - 1n))
      state[ServiceState.descriptorCid1] = d1
      const { links } = await run(
        { bundleCid: bundle.cid.toString(), service: service.address, jobId },
        { chain: chainWith([], state) },
      )
      expect(links.find((l) => l.id === 'runner')).toMatchObject({
        status: 'broken',
        detail: 'the contract holds no valid descriptor CID',
      })
    })
  })

  describe('which settlement', () => {
    const leavesOf = (digests: Uint8Array[]): SettledLeaves => ({
      v: 1,
      service: service.address,
      user: service.user.publicKey,
      manifestDigests: digests.map(toHex),
    })
    const pin = async (doc: SettledLeaves) => {
      const cid = settledLeavesCid(doc)
      await blocks.put(cid, settledLeavesBytes(doc))
      return unwrap(cidToFields(cid))
    }
    const settle = (
      jobs: bigint,
      root: bigint,
      cid: [bigint, bigint],
      where: Partial<ChainEvent> = {},
    ): ChainEvent => {
      const [ux, uOdd] = unwrap(publicKeyToFields(service.user.publicKey))
      return {
        height: 5,
        slot: 50,
        chainStatus: 'canonical',
        sequence: 0,
        index: 0,
        // A claim at nonce `jobs`: each later claim of these tests covers more results.
        data: claimData([ux, uOdd], { amount: 10n ** 9n, nonce: jobs, root, count: jobs, cid }),
        ...where,
      }
    }
    const ownerOf = () => ({ service: service.address, user: service.user.publicKey })
    const settledLink = async (events: (digest: Uint8Array) => Promise<ChainEvent[]>) => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      const { links } = await run(
        { bundleCid: bundle.cid.toString(), service: service.address, jobId },
        {
          chain: chainWith(await events(manifestDigest(bundle.manifest))),
          settled: settledResultsFrom(memoryBundleReader(blocks), async (o, d) =>
            computeResultsRoot(o, d),
          ),
        },
      )
      return links.find((l) => l.id === 'settled')!
    }

    it('takes the newest claim by place within the block, whatever order the archive answers', async () => {
      const older = new Uint8Array(32).fill(1)
      const link = await settledLink(async (digest) => {
        const leaves = [older, digest]
        const newest = settle(
          2n,
          computeResultsRoot(ownerOf(), leaves),
          await pin(leavesOf(leaves)),
          {
            sequence: 2,
          },
        )
        const earlier = settle(
          1n,
          computeResultsRoot(ownerOf(), [older]),
          await pin(leavesOf([older])),
          {
            sequence: 1,
          },
        )
        return [newest, earlier]
      })
      expect(link).toMatchObject({ status: 'ok' })
      expect(link.detail).toContain('leaf 1 of 2')
    })

    it('ignores a settlement in an orphaned block', async () => {
      const link = await settledLink(async (digest) => [
        settle(1n, computeResultsRoot(ownerOf(), [digest]), await pin(leavesOf([digest])), {
          chainStatus: 'orphaned',
        }),
      ])
      expect(link.status).toBe('pending')
      expect(link.detail).toContain('not settled yet')
    })

    it('says Settled only for a leaf within the jobs the settlements paid', async () => {
      const paid = new Uint8Array(32).fill(2)
      const link = await settledLink(async (digest) => {
        // The runner's leaves list two jobs under the root, but the settlement paid for one.
        const leaves = [paid, digest]
        return [settle(1n, computeResultsRoot(ownerOf(), leaves), await pin(leavesOf(leaves)))]
      })
      expect(link.status).toBe('pending')
      expect(link.detail).toContain('beyond the 1 jobs the settlements paid')
    })

    it('pages past the archive’s block range, so an old settlement does not vanish', async () => {
      const user = service.user.publicKey
      const [ux, uOdd] = unwrap(publicKeyToFields(user))
      const cid = unwrap(cidToFields(settledLeavesCid(leavesOf([]))))
      const ledger = ledgerAddressOf(service.state)!
      const claim = { amount: 10n ** 9n, nonce: 1n, root: 42n, count: 1n, cid }
      const double = await startGraphqlDouble({
        states: new Map([[service.address, service.state]]),
        balances: new Map(),
        slot: 1n,
        tip: 25_000,
        events: new Map([[ledger, [{ height: 7, data: claimData([ux, uOdd], claim) }]]]),
      })
      try {
        const reader = new GraphqlChainReader(`${double.url}/graphql`, `${double.url}/archive`)
        const settlement = await readSettlement(reader, service.address, user)
        expect(settlement).toMatchObject({ height: 7, resultsRoot: 42n, jobs: 1n })
      } finally {
        await double.close()
      }
    })
  })

  describe('unverified content looks unverified', () => {
    it.each(['tampered-file', 'wrong-signature', 'wrong-source'] as const)(
      'does not vouch for the content of a %s bundle',
      async (variant) => {
        const jobId = newRequestId()
        const bundle = await bundleFixture(blocks, service, jobId, variant)
        const { links } = await run({
          bundleCid: bundle.cid.toString(),
          service: service.address,
          jobId,
        })
        expect(contentVerified(links)).toBe(false)
      },
    )
  })
})

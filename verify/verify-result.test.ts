import { MemoryBlockstore } from 'blockstore-core/memory'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  cidToFields,
  generateHpkeKeyPair,
  generateMinaKeyPair,
  manifestDigest,
  newRequestId,
  outputsDigest,
  publicKeyToFields,
  type ServiceAccounts,
  type SettledLeaves,
  settledLeavesBytes,
  settledLeavesCid,
  toHex,
  unwrap,
} from '../protocol/index.ts'
import type { ChainEvent } from './chain-reader.ts'
import { contentVerified, firstBroken, type VerificationLink } from './links.ts'
import { computeResultsRoot } from './results-root.ts'
import { settledResultsFrom } from './settled-leaves.ts'
import {
  type BundleVariant,
  bundleFixture,
  type ServiceFixture,
  serviceFixture,
} from './test-support/bundle-fixture.ts'
import { genuineAccounts, noAccounts, nodePoseidon, TEST_GENUINE } from './test-support/genuine.ts'
import { claimData, claimsBook, emptyBook } from './test-support/ledger-double.ts'
import { memoryBundleReader } from './test-support/memory-bundle-reader.ts'
import { type VerifyDeps, verifyResult } from './verify-result.ts'

const blocks = new MemoryBlockstore()
let service: ServiceFixture

beforeAll(async () => {
  service = await serviceFixture(blocks, {
    workerPublicKey: (await generateHpkeKeyPair()).publicKey,
  })
})

const chainWith = (
  events: ChainEvent[] = [],
  state?: bigint[] | null,
  accounts?: ServiceAccounts,
): VerifyDeps['chain'] => ({
  serviceAccounts: async (address) => {
    if (accounts) return accounts
    const s = address === service.address ? (state === undefined ? service.state : state) : null
    return s ? genuineAccounts(s) : noAccounts()
  },
  events: async () => events,
  ledgerBook: claimsBook(() => events),
})

/** The dependencies every verification gets: the genuine code and o1js's Poseidon. */
const baseDeps = { genuine: TEST_GENUINE, poseidon: nodePoseidon }

async function verify(variant: BundleVariant, deps: Partial<VerifyDeps> = {}) {
  const jobId = newRequestId()
  const bundle = await bundleFixture(blocks, service, jobId, variant)
  const outcome = await verifyResult(
    { bundleCid: bundle.cid.toString(), service: service.address, jobId },
    { bundle: memoryBundleReader(blocks), chain: chainWith(), ...baseDeps, ...deps },
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
      inner: 'ok',
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
      { bundle: memoryBundleReader(blocks), chain: chainWith(), ...baseDeps },
    )
    expect(firstBroken(links)?.id).toBe('manifest')
  })

  it('leaves the manifest link not checked, not ✓, when no job id or request is given', async () => {
    const bundle = await bundleFixture(blocks, service, newRequestId())
    const { links } = await verifyResult(
      { bundleCid: bundle.cid.toString(), service: service.address },
      { bundle: memoryBundleReader(blocks), chain: chainWith(), ...baseDeps },
    )
    const manifest = links.find((l) => l.id === 'manifest')
    expect(manifest?.status).toBe('pending')
    expect(manifest?.detail).toContain('not checked (no request given)')
    expect(firstBroken(links)).toBeNull()
    // The content is still the runner's own: the page shows it as checked.
    expect(contentVerified(links)).toBe(true)
  })

  // Operators cannot take deposits: no ✓ for a service that is not genuine and frozen, and the
  // runner link holds only for the key the contract froze.
  it('shows no ✓ at all for a look-alike service whose every other link would pass', async () => {
    const fake = genuineAccounts(service.state)
    fake.service!.vkHash = 999n
    const { links } = await verify('good', { chain: chainWith([], undefined, fake) })
    expect(links.filter((l) => l.status === 'ok')).toEqual([])
    expect(firstBroken(links)).toMatchObject({ id: 'service' })
    expect(firstBroken(links)?.detail).toContain('WRONG_CODE')
  })

  it("refuses a service whose ledger's escrow is not its LedgerVault", async () => {
    const fake = genuineAccounts(service.state)
    fake.ledgerVault = { zkappState: null, balance: 2000n, vkHash: null, permissions: null }
    const { links } = await verify('good', { chain: chainWith([], undefined, fake) })
    expect(firstBroken(links)?.detail).toContain('NO_LEDGER_VAULT')
    expect(links.some((l) => l.status === 'ok')).toBe(false)
  })

  it("breaks the runner link when the contract's runnerKeyHash is not the signer's", async () => {
    const state = [...service.state]
    state[4] = 999n
    const { links } = await verify('good', { chain: chainWith([], state) })
    expect(links.filter((l) => l.status === 'broken').map((l) => l.id)).toEqual(['runner'])
    expect(firstBroken(links)?.detail).toContain('runnerKeyHash 999')
  })

  describe('settlement', () => {
    /** Stores a leaves document in the blockstore the reader serves; returns its CID fields. */
    const pinLeaves = async (doc: SettledLeaves): Promise<[bigint, bigint]> => {
      const cid = settledLeavesCid(doc)
      await blocks.put(cid, settledLeavesBytes(doc))
      return unwrap(cidToFields(cid))
    }
    const leavesOf = (digests: Uint8Array[], user = service.user.publicKey): SettledLeaves => ({
      v: 1,
      service: service.address,
      user,
      manifestDigests: digests.map(toHex),
    })
    const owner = (user = service.user.publicKey) => ({ service: service.address, user })
    const settleEvent = (
      jobs: bigint,
      root: bigint,
      [c0, c1]: [bigint, bigint],
      user = service.user.publicKey,
    ): ChainEvent => {
      const [ux, uOdd] = unwrap(publicKeyToFields(user))
      return {
        height: 5,
        slot: 50,
        chainStatus: 'canonical',
        sequence: 0,
        index: 0,
        // A Claim on the service's ledger (the double's book applies it: deposit and voucher cover it).
        data: claimData([ux, uOdd], {
          amount: 10n ** 9n,
          nonce: 1n,
          root,
          count: jobs,
          cid: [c0, c1],
        }),
      }
    }
    /** Verifies a fresh good bundle against one Claim event, reading leaves through the real reader. */
    const verifySettled = async (
      event: (digest: Uint8Array) => Promise<ChainEvent>,
      reader = memoryBundleReader(blocks),
      payer?: string,
    ) => {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId)
      const { links } = await verifyResult(
        {
          bundleCid: bundle.cid.toString(),
          service: service.address,
          jobId,
          ...(payer ? { payer } : {}),
        },
        {
          bundle: memoryBundleReader(blocks),
          chain: chainWith([await event(manifestDigest(bundle.manifest))]),
          ...baseDeps,
          settled: settledResultsFrom(reader, async (o, d) => computeResultsRoot(o, d)),
        },
      )
      return links.find((l) => l.id === 'settled')!
    }

    it('is ok when the leaves document the event names gives the settled root', async () => {
      const earlier = new Uint8Array(32).fill(3)
      const settled = await verifySettled(async (digest) => {
        const leaves = [earlier, digest]
        return settleEvent(
          2n,
          computeResultsRoot(owner(), leaves),
          await pinLeaves(leavesOf(leaves)),
        )
      })
      expect(settled).toMatchObject({ status: 'ok' })
      expect(settled.detail).toContain('leaf 1 of 2')
    })

    it("a sponsored job: ok under the paying sponsor's channel, pending when looked for in its user's", async () => {
      const sponsor = generateMinaKeyPair().publicKey
      const event = async (digest: Uint8Array) =>
        settleEvent(
          1n,
          computeResultsRoot(owner(sponsor), [digest]),
          await pinLeaves(leavesOf([digest], sponsor)),
          sponsor,
        )
      const paid = await verifySettled(event, undefined, sponsor)
      expect(paid).toMatchObject({ status: 'ok' })
      expect(paid.detail).toContain('leaf 0 of 1')
      const asUser = await verifySettled(event)
      expect(asUser).toMatchObject({ status: 'pending' })
      // Naming a channel that did not pay for it proves nothing either.
      const elsewhere = await verifySettled(event, undefined, generateMinaKeyPair().publicKey)
      expect(elsewhere.status).toBe('pending')
      expect(elsewhere.detail).toContain('the paying channel')
    })

    it('is broken, naming the document, when its leaves give another root', async () => {
      const settled = await verifySettled(async (digest) =>
        settleEvent(1n, 12345n, await pinLeaves(leavesOf([digest]))),
      )
      expect(settled.status).toBe('broken')
      expect(settled.detail).toMatch(/leaves document bafkrei\w+ gives root/)
    })

    it('is broken when the document lists another user’s leaves', async () => {
      const settled = await verifySettled(async (digest) => {
        const doc = { ...leavesOf([digest]), user: service.runner.publicKey }
        return settleEvent(1n, computeResultsRoot(owner(), [digest]), await pinLeaves(doc))
      })
      expect(settled.status).toBe('broken')
      expect(settled.detail).toContain('lists the leaves of user')
    })

    it('stays pending, saying why, when the document cannot be retrieved', async () => {
      const settled = await verifySettled(async (digest) => {
        const doc = leavesOf([digest])
        return settleEvent(
          1n,
          computeResultsRoot(owner(), [digest]),
          unwrap(cidToFields(settledLeavesCid(doc))),
        )
      }, memoryBundleReader(new MemoryBlockstore()))
      expect(settled.status).toBe('pending')
      expect(settled.detail).toContain('cannot retrieve the leaves document')
    })

    it('is ok, saying not charged, for a job its agent lost; broken if the runner settled it anyway', async () => {
      const jobId = newRequestId()
      const lost = await bundleFixture(blocks, service, jobId, 'agent-lost')
      const earlier = new Uint8Array(32).fill(3)
      const check = async (leaves: Uint8Array[]) => {
        const event = settleEvent(
          BigInt(leaves.length),
          computeResultsRoot(owner(), leaves),
          await pinLeaves(leavesOf(leaves)),
        )
        const { links } = await verifyResult(
          { bundleCid: lost.cid.toString(), service: service.address, jobId },
          {
            bundle: memoryBundleReader(blocks),
            chain: chainWith([event]),
            ...baseDeps,
            settled: settledResultsFrom(memoryBundleReader(blocks), async (o, d) =>
              computeResultsRoot(o, d),
            ),
          },
        )
        return links.find((l) => l.id === 'settled')!
      }
      const notCharged = await check([earlier])
      expect(notCharged.status).toBe('ok')
      expect(notCharged.detail).toContain('not charged (agent-lost)')
      const paidAnyway = await check([earlier, manifestDigest(lost.manifest)])
      expect(paidAnyway.status).toBe('broken')
    })

    it('stays pending when the job comes after the settled ones', async () => {
      const other = new Uint8Array(32).fill(7)
      const settled = await verifySettled(async () =>
        settleEvent(1n, computeResultsRoot(owner(), [other]), await pinLeaves(leavesOf([other]))),
      )
      expect(settled).toMatchObject({ status: 'pending' })
      expect(settled.detail).toContain('not settled yet')
    })
  })
})

describe('verifyResult: typed outputs', () => {
  let withOutputs: ServiceFixture
  beforeAll(async () => {
    withOutputs = await serviceFixture(blocks, {
      workerPublicKey: (await generateHpkeKeyPair()).publicKey,
      outputs: [
        { name: 'primes', type: 'integer', required: true },
        { name: 'passed', type: 'boolean', required: true },
      ],
    })
  })
  const verifyOutputs = async (variant: BundleVariant, edit?: (m: string) => string) => {
    const jobId = newRequestId()
    const bundle = await bundleFixture(blocks, withOutputs, jobId, variant)
    const chain: VerifyDeps['chain'] = {
      serviceAccounts: async () => genuineAccounts(withOutputs.state),
      events: async () => [],
      ledgerBook: emptyBook,
    }
    const reader = memoryBundleReader(blocks)
    const bundleReader = edit
      ? {
          ...reader,
          readPath: async (root: string, path: string) => {
            const bytes = await reader.readPath(root, path)
            return path === 'manifest.json'
              ? new TextEncoder().encode(edit(new TextDecoder().decode(bytes)))
              : bytes
          },
        }
      : reader
    const outcome = await verifyResult(
      { bundleCid: bundle.cid.toString(), service: withOutputs.address, jobId },
      { bundle: bundleReader, chain, ...baseDeps },
    )
    return { ...outcome, bundle }
  }

  it('shows the signed outputs, their outputsDigest and that they are laid out as declared', async () => {
    const { links, outputs, bundle } = await verifyOutputs('good')
    expect(statuses(links).signature).toBe('ok')
    expect(outputs).toEqual({
      valid: true,
      values: [
        { name: 'primes', type: 'integer', value: '25' },
        { name: 'passed', type: 'boolean', value: true },
      ],
      problems: [],
      outputsDigest: String(outputsDigest(bundle.manifest.outputs)),
      declaration: 'matches',
    })
  })

  it('an outputs-invalid job still verifies, and says why its outputs are invalid', async () => {
    const { links, outputs } = await verifyOutputs('outputs-invalid')
    expect(links.filter((l) => l.status === 'broken')).toEqual([])
    expect(outputs?.valid).toBe(false)
    expect(outputs?.problems).toEqual([
      'forged: not an output the service declares',
      'primes: required, but the job did not write it',
    ])
  })

  it('outputs laid out unlike the descriptor are named as such', async () => {
    const { outputs } = await verifyOutputs('outputs-undeclared')
    expect(outputs?.declaration).toBe(
      'the manifest lays out [other:integer], the service declares [primes:integer, passed:boolean]',
    )
  })

  it('an output edited after signing breaks the signature link', async () => {
    const { links } = await verifyOutputs('good', (m) => m.replace('"value":"25"', '"value":"26"'))
    expect(links.filter((l) => l.status === 'broken').map((l) => l.id)).toEqual(['signature'])
  })
})

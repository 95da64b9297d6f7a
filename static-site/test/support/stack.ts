import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { build } from 'vite'
import {
  cidToFields,
  generateMinaKeyPair,
  ledgerAddressOf,
  manifestDigest,
  newRequestId,
  publicKeyToFields,
  type SourceReveal,
  settledLeavesBytes,
  settledLeavesCid,
  sha256,
  sourceRevealBytes,
  toHex,
  unwrap,
  validateParameters,
} from '../../../protocol/index.ts'
import {
  type BundleVariant,
  bundleFixture,
  PRIVATE_OPENING,
  requestFixture,
  type ServiceFixture,
  serviceFixture,
} from '../../../verify/test-support/bundle-fixture.ts'
import { TEST_CREDIT_TOKEN_ID, TEST_GENUINE_CODE } from '../../../verify/test-support/genuine.ts'
import { type ChainData, startGraphqlDouble } from '../../../verify/test-support/graphql-double.ts'
import { claimData } from '../../../verify/test-support/ledger-double.ts'
import {
  listen,
  type RunningServer,
  startTrustlessGateway,
} from '../../../verify/test-support/trustless-gateway.ts'
import { pageHeaders } from '../../headers.ts'
import { type DoubleResult, startWorkerDouble, type WorkerDouble } from './worker-double.ts'

const SITE = new URL('../..', import.meta.url).pathname
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
}

/** The local stack as the page test sees it: URLs, and handles on what the doubles received. */

/** Sponsors of the sample service's pools, as the Worker double reports them. */
export const SPONSOR_WITH_JOBS = generateMinaKeyPair().publicKey
export const SPONSOR_RUN_DRY = generateMinaKeyPair().publicKey

export interface Stack {
  pageUrl: string
  worker: WorkerDouble
  service: ServiceFixture
  /** A second, disabled service (stale heartbeat), to see the market say why. */
  staleService: ServiceFixture
  /** A third service whose ledger's escrow is a plain account (no LedgerVault): shown as Unsafe. */
  unsafeService: ServiceFixture
  /**
   * A higher-order service: its DRIVER parameter takes a service with a SUITE enum and a `tests`
   * integer output (of the market, only `service` matches).
   */
  higherOrder: ServiceFixture
  /**
   * A private service (no coordinates in its descriptor; PRIVATE_OPENING committed), listed in the
   * registry by its runner and served by the Worker double like `service`, once added: the other
   * tests count the others.
   */
  addPrivateService(): Promise<ServiceFixture>
  /**
   * Lists a reveal document for the private service in the registry, as `npm run deploy -- reveal`
   * does: pinned to the gateway, its CID published again by the service's runner. Returns the CID.
   */
  reveal(doc: SourceReveal): Promise<string>
  /** The reveal document that opens the private service's commitment (PRIVATE_OPENING). */
  revealOf(service: ServiceFixture): SourceReveal
  /** Builds another bundle for `service` in the gateway's blockstore (to verify by CID). */
  addBundle(variant: BundleVariant, jobId: string): Promise<string>
  /**
   * A result of `higherOrder` whose signed manifest lists one inner job of `service` (requested by
   * the higher-order runner, as `zkrunner-agent call` does), the inner bundle built as `variant`.
   */
  addNestedBundle(
    variant: BundleVariant,
  ): Promise<{ cid: string; jobId: string; innerJobId: string }>
  /** A genuine, runner-signed result of another user's job with `service`, pinned to the gateway. */
  anotherUsersJob(): Promise<DoubleResult>
  /** Jobs the Worker double completed (and, with `settledRoot`, settled), oldest first. */
  completed: { jobId: string; bundleCid: string }[]
  /** The page's dev user (its key signs honest vouchers for the funding double). */
  user: { publicKey: string; privateKey: string }
  /** Makes the double report this funding for every user (an inflated owed, a forged voucher), or the truth again with null. */
  setFunding(funding: { owed: string; voucher?: unknown; released?: unknown } | null): void
  /** Makes the node announce a hard fork at this slot (its `runtimeConfig`), none with null, or answer no `runtimeConfig` at all. */
  setSlotTxEnd(slot: bigint | null | 'unanswered'): void
  /** Writes one state field of a service's ledger over what its actions give (null: the truth again). */
  forgeLedgerField(service: string, field: number, value: bigint | null): void
  /** The chain's current slot. */
  slot: bigint
  close(): Promise<void>
}

/** Builds the page once with vite into a fresh directory. */
export async function buildPage(): Promise<string> {
  const outDir = join(tmpdir(), `zkrunner-site-${process.pid}-${Date.now()}`)
  await build({
    configFile: join(SITE, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  })
  return outDir
}

/** Serves a built page with the headers production hosts must send (loopback allowed), and a config.json. */
export async function servePage(dir: string, config: unknown): Promise<RunningServer> {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://page').pathname
    // The headers a real host sends, CSP included (the prover worker's own for its script): the
    // page must work under them.
    const headers = pageHeaders({ loopback: true, path })
    if (path === '/config.json') {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' })
      res.end(JSON.stringify(config))
      return
    }
    const file = normalize(join(dir, path === '/' ? 'index.html' : path))
    if (!file.startsWith(dir)) {
      res.writeHead(403).end()
      return
    }
    try {
      const body = await readFile(file)
      res.writeHead(200, {
        ...headers,
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      })
      res.end(body)
    } catch {
      res.writeHead(404, headers).end('not found')
    }
  })
  return listen(server)
}

/**
 * Starts the pieces the page talks to, all real protocols on loopback: a trustless gateway over
 * a blockstore, a Worker-API double (HPKE, vouchers), a Mina GraphQL + archive double, and the
 * built page. `settledRoot` computes the results root of the runner's claim once a job completes
 * (o1js Poseidon), and the user's cumulative SettledLeaves document is put in the gateway's
 * blockstore, as the runner pins it; without it the job stays unsettled.
 */
export async function startStack(opts: {
  pageDir: string
  settledRoot?: (owner: { service: string; user: string }, digests: Uint8Array[]) => bigint
}): Promise<Stack> {
  const blocks = new MemoryBlockstore()
  const gateway = await startTrustlessGateway(blocks)
  const devUser = generateMinaKeyPair()
  const registry = generateMinaKeyPair().publicKey
  const chain: ChainData = { states: new Map(), balances: new Map(), slot: 12n, events: new Map() }
  const owed = new Map<string, bigint>()
  let fundingOverride: { owed: string; voucher?: unknown; released?: unknown } | null = null
  const leaves = new Map<string, Uint8Array[]>()
  const completed: Stack['completed'] = []
  let service!: ServiceFixture
  let staleService!: ServiceFixture
  let higherOrder!: ServiceFixture
  let privateService: ServiceFixture | undefined
  const worker = await startWorkerDouble({
    status: (address, user) => {
      const s = [service, staleService, higherOrder, privateService].find(
        (x) => x?.address === address,
      )
      if (!s)
        return {
          service: address,
          enabled: false,
          reason: 'unknown-service',
          registered: false,
          descriptor: null,
          descriptorCid: null,
          chain: null,
        }
      const stale = s === staleService
      return {
        service: address,
        enabled: !stale,
        ...(stale ? { reason: 'stale-heartbeat' } : {}),
        registered: true,
        descriptor: s.descriptor,
        descriptorCid: s.descriptorCid.toString(),
        chain: {
          enabled: !stale,
          ...(stale ? { reason: 'stale-heartbeat' } : {}),
          pricePerJob: s.descriptor.pricePerJob,
          lastHeartbeatSlot: stale ? '1' : '10',
          currentSlot: String(chain.slot + 50n * BigInt(stale)),
          maxHeartbeatAgeSlots: '20',
          settledJobs: '0',
          ...(user
            ? {
                funding: {
                  deposit: '20',
                  owed: String(owed.get(`${address}:${user}`) ?? 0n),
                  ...fundingOverride,
                },
              }
            : {}),
        },
        // The sample service has two sponsors: one pool with jobs left, one run dry.
        sponsorships:
          s === service
            ? [
                {
                  sponsor: SPONSOR_WITH_JOBS,
                  enabled: true,
                  jobsLeft: '2',
                  pool: { deposit: '10', owed: '0', fundable: '10' },
                  ...(user ? { allowance: { used: 1, left: 2 } } : {}),
                },
                {
                  sponsor: SPONSOR_RUN_DRY,
                  enabled: false,
                  reason: 'funding-exhausted',
                  jobsLeft: '0',
                  pool: { deposit: '15', owed: '15', fundable: '0' },
                },
              ]
            : [],
      }
    },
    complete: async (submission) => {
      const { request } = submission
      // A sponsored job owes nothing on the user's channel: the sponsor's pool pays.
      if ('voucher' in submission)
        owed.set(`${request.service}:${request.user}`, BigInt(submission.voucher.cumulativeAmount))
      // The job of whichever service was asked (the higher-order and the private one's too).
      const asked =
        [higherOrder, privateService].find((x) => x?.address === request.service) ?? service
      const parameters = unwrap(validateParameters(asked.descriptor.parameters, request.parameters))
      const bundle = await bundleFixture(blocks, asked, request.requestId, 'good', {
        requestId: request.requestId,
        service: request.service,
        user: request.user,
        parameters,
      })
      completed.push({ jobId: request.requestId, bundleCid: bundle.cid.toString() })
      // A sponsored job would settle on its sponsor's pool channel: the double settles paid jobs.
      if (opts.settledRoot && asked !== higherOrder && 'voucher' in submission) {
        const { voucher } = submission
        const [ux, uOdd] = unwrap(publicKeyToFields(request.user))
        const channel = `${asked.address}:${request.user}`
        const digests = [...(leaves.get(channel) ?? []), manifestDigest(bundle.manifest)]
        leaves.set(channel, digests)
        const root = opts.settledRoot({ service: asked.address, user: request.user }, digests)
        const doc = {
          v: 1 as const,
          service: asked.address,
          user: request.user,
          manifestDigests: digests.map(toHex),
        }
        const cid = settledLeavesCid(doc)
        await blocks.put(cid, settledLeavesBytes(doc))
        const [c0, c1] = unwrap(cidToFields(cid))
        // The runner's claim lands on the service's ledger with the user's voucher; the double's
        // ledger applies it (its actions follow from these Claim events).
        const ledger = ledgerAddressOf(asked.state)
        if (!ledger) throw new Error('the fixture service names no ledger')
        const events = chain.events.get(ledger) ?? []
        events.push({
          height: 9,
          sequence: events.length,
          data: claimData([ux, uOdd], {
            amount: BigInt(voucher.cumulativeAmount),
            nonce: BigInt(voucher.nonce),
            root,
            count: BigInt(digests.length),
            cid: [c0, c1],
          }),
        })
        chain.events.set(ledger, events)
      }
      return {
        bundleCid: bundle.cid.toString(),
        manifest: bundle.manifest,
        runner: asked.runner.publicKey,
        signature: bundle.signature.signature,
      }
    },
  })
  service = await serviceFixture(blocks, {
    workerPublicKey: worker.keys.publicKey,
    user: devUser,
    // Typed outputs, so the result view shows them (the fixture job writes each one).
    outputs: [
      { name: 'tests', type: 'integer', required: true },
      { name: 'passed', type: 'boolean', required: true },
      { name: 'summary', type: 'string', required: false, maxBytes: 64 },
    ],
  })
  staleService = await serviceFixture(blocks, {
    workerPublicKey: worker.keys.publicKey,
    user: devUser,
    slot: 1n,
    name: 'lint (stale runner)',
    // Cheaper, so sorting by price puts it first.
    price: 3n,
  })
  higherOrder = await serviceFixture(blocks, {
    workerPublicKey: worker.keys.publicKey,
    user: devUser,
    name: 'speedup of a driver (higher-order)',
    price: 7n,
    parameters: [
      {
        name: 'DRIVER',
        type: 'service',
        required: true,
        interface: {
          parameters: [{ name: 'SUITE', type: 'enum' }],
          outputs: [{ name: 'tests', type: 'integer' }],
        },
      },
    ],
  })
  const graphqlDouble = await startGraphqlDouble(chain)
  const publish = (s: ServiceFixture, height: number, cid: CID | string = s.descriptorCid) => {
    const [sx, sOdd] = unwrap(publicKeyToFields(s.address))
    const [ox, oOdd] = unwrap(publicKeyToFields(s.runner.publicKey))
    const [c0, c1] = unwrap(cidToFields(cid))
    return { height, data: [0n, sx, sOdd, ox, oOdd, c0, c1] }
  }
  /** Appends a registry event above every block so far, as a new transaction would land. */
  const list = (s: ServiceFixture, cid?: CID | string) => {
    const events = chain.events.get(registry) ?? []
    const height = Math.max(...[...chain.events.values()].flat().map((e) => e.height)) + 1
    events.push(publish(s, height, cid))
    chain.events.set(registry, events)
  }
  const stranger = generateMinaKeyPair().publicKey
  const unsafeService = await serviceFixture(blocks, {
    workerPublicKey: worker.keys.publicKey,
    user: devUser,
    name: 'unsafe look-alike',
    price: 6n,
  })
  chain.states.set(service.address, service.state)
  chain.states.set(staleService.address, staleService.state)
  chain.states.set(unsafeService.address, unsafeService.state)
  chain.states.set(higherOrder.address, higherOrder.state)
  chain.fakeVaults = new Set([unsafeService.address])
  // Operators cannot take deposits: anyone may publish and retire in the registry. A stranger
  // publishes the good service under their own key, then retires it: the page must still list it,
  // under its own runner.
  const [sx, sOdd] = unwrap(publicKeyToFields(service.address))
  const [tx, tOdd] = unwrap(publicKeyToFields(stranger))
  const [c0, c1] = unwrap(cidToFields(service.descriptorCid))
  chain.events.set(registry, [
    publish(service, 3),
    publish(staleService, 4),
    publish(unsafeService, 5),
    publish(higherOrder, 5),
    { height: 6, data: [0n, sx, sOdd, tx, tOdd, c0, c1] },
    { height: 7, data: [1n, sx, sOdd, tx, tOdd] },
  ])
  chain.slot = 12n
  const page = await servePage(opts.pageDir, {
    workerUrl: worker.url,
    minaGraphqlUrl: `${graphqlDouble.url}/graphql`,
    archiveUrl: `${graphqlDouble.url}/archive`,
    gateways: [gateway.url],
    networkId: 'testnet',
    registryAddress: registry,
    tokenAddress: generateMinaKeyPair().publicKey,
    creditTokenId: TEST_CREDIT_TOKEN_ID,
    genuineCode: TEST_GENUINE_CODE,
    devKey: devUser.privateKey,
  })
  return {
    pageUrl: page.url,
    worker,
    service,
    staleService,
    unsafeService,
    higherOrder,
    addPrivateService: async () => {
      if (privateService) return privateService
      privateService = await serviceFixture(blocks, {
        workerPublicKey: worker.keys.publicKey,
        user: devUser,
        name: 'benchmarks',
        visibility: 'private',
        revealGoal: 50n,
      })
      chain.states.set(privateService.address, privateService.state)
      list(privateService)
      return privateService
    },
    reveal: async (doc) => {
      if (!privateService) throw new Error('no private service: addPrivateService first')
      const bytes = sourceRevealBytes(doc)
      const cid = CID.createV1(0x55, createDigest(0x12, sha256(bytes)))
      await blocks.put(cid, bytes)
      list(privateService, cid)
      return cid.toString()
    },
    revealOf: (s) => ({
      v: 1,
      kind: 'zkrunner/source-reveal',
      service: s.address,
      commitment: s.sourceCommitment,
      provider: 'gitlab',
      ref: 'main',
      job: 'benchmarks',
      ...PRIVATE_OPENING,
    }),
    addBundle: async (variant, jobId) =>
      (await bundleFixture(blocks, service, jobId, variant)).cid.toString(),
    addNestedBundle: async (variant) => {
      const innerJobId = newRequestId()
      const inner = await bundleFixture(blocks, service, innerJobId, variant, {
        ...requestFixture(service, innerJobId, higherOrder.runner.publicKey),
        callPath: [higherOrder.address],
      })
      const jobId = newRequestId()
      const outer = await bundleFixture(
        blocks,
        higherOrder,
        jobId,
        'good',
        // Its DRIVER is the service the inner job ran on.
        {
          requestId: jobId,
          service: higherOrder.address,
          user: higherOrder.user.publicKey,
          parameters: { DRIVER: service.address },
        },
        [
          {
            service: service.address,
            jobId: innerJobId,
            bundleCid: inner.cid.toString(),
            manifestDigest: toHex(manifestDigest(inner.manifest)),
          },
        ],
      )
      return { cid: outer.cid.toString(), jobId, innerJobId }
    },
    anotherUsersJob: async () => {
      const jobId = newRequestId()
      const other = generateMinaKeyPair().publicKey
      const bundle = await bundleFixture(
        blocks,
        service,
        jobId,
        'good',
        requestFixture(service, jobId, other),
      )
      return {
        bundleCid: bundle.cid.toString(),
        manifest: bundle.manifest,
        runner: service.runner.publicKey,
        signature: bundle.signature.signature,
      }
    },
    completed,
    user: devUser,
    setFunding: (funding) => {
      fundingOverride = funding
    },
    setSlotTxEnd: (slot) => {
      chain.daemon =
        slot === null ? undefined : slot === 'unanswered' ? null : { slot_tx_end: Number(slot) }
    },
    forgeLedgerField: (service, field, value) => {
      const forged = chain.forgedLedgerState ?? new Map<string, Map<number, bigint>>()
      const fields = forged.get(service) ?? new Map<number, bigint>()
      if (value === null) fields.delete(field)
      else fields.set(field, value)
      forged.set(service, fields)
      chain.forgedLedgerState = forged
    },
    slot: chain.slot,
    close: async () => {
      await Promise.all([page.close(), worker.close(), graphqlDouble.close(), gateway.close()])
    },
  }
}

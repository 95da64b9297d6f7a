import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  generateMinaKeyPair,
  ledgerAddressOf,
  manifestDigest,
  newRequestId,
  outputsDigest,
  type ResultManifest,
} from '../protocol/index.ts'
import type { OutputsSummary } from '../verify/index.ts'
import {
  GraphqlChainReader,
  LINKS,
  settledResultsFrom,
  type VerificationLink,
  type VerifyTarget,
  verifyResult,
} from '../verify/index.ts'
import { computeResultsRoot } from '../verify/results-root.ts'
import {
  type BundleVariant,
  bundleFixture,
  requestFixture,
  type ServiceFixture,
  serviceFixture,
} from '../verify/test-support/bundle-fixture.ts'
import {
  nodePoseidon,
  TEST_CREDIT_TOKEN_ID,
  TEST_GENUINE,
  TEST_GENUINE_CODE,
} from '../verify/test-support/genuine.ts'
import { type ChainData, startGraphqlDouble } from '../verify/test-support/graphql-double.ts'
import { DEPOSIT } from '../verify/test-support/ledger-double.ts'
import { memoryBundleReader } from '../verify/test-support/memory-bundle-reader.ts'
import { settleFixture } from '../verify/test-support/settle-fixture.ts'
import {
  type RunningServer,
  startTrustlessGateway,
} from '../verify/test-support/trustless-gateway.ts'
import { main } from './main.ts'

// `zkrunner verify` against real bundles (the page's own fixtures) served by a trustless gateway
// double and a Mina GraphQL + archive double on loopback: the CLI reads over HTTP exactly what the
// page would, and must reach the page's verdict link by link.

const blocks = new MemoryBlockstore()
const chain: ChainData = { states: new Map(), balances: new Map(), slot: 12n, events: new Map() }
let service: ServiceFixture
let gateway: RunningServer
let graphql: RunningServer
let dir: string
let config: string
/** The job whose bundle is settled: every link holds. */
let settled: { jobId: string; cid: string }
let settledManifest: ResultManifest

beforeAll(async () => {
  service = await serviceFixture(blocks, {
    workerPublicKey: (await generateHpkeKeyPair()).publicKey,
    outputs: [
      { name: 'tests', type: 'integer', required: true },
      { name: 'passed', type: 'boolean', required: true },
    ],
  })
  chain.states.set(service.address, service.state)
  gateway = await startTrustlessGateway(blocks)
  graphql = await startGraphqlDouble(chain)
  const jobId = newRequestId()
  const bundle = await bundleFixture(blocks, service, jobId)
  const owner = { service: service.address, user: service.user.publicKey }
  const data = await settleFixture(blocks, owner, [manifestDigest(bundle.manifest)])
  // The claim lands on the service's ledger (the address its state names).
  chain.events.set(ledgerAddressOf(service.state)!, [{ height: 9, data }])
  settled = { jobId, cid: bundle.cid.toString() }
  settledManifest = bundle.manifest
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-cli-'))
  // The page's own config.json shape, keys the CLI does not use included.
  config = await writeConfig('config.json', [gateway.url])
})

afterAll(async () => {
  await Promise.all([gateway?.close(), graphql?.close()])
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function writeConfig(name: string, gateways: string[]): Promise<string> {
  const path = join(dir, name)
  await writeFile(
    path,
    JSON.stringify({
      workerUrl: 'http://127.0.0.1:1',
      minaGraphqlUrl: `${graphql.url}/graphql`,
      archiveUrl: `${graphql.url}/archive`,
      gateways,
      networkId: 'devnet',
      registryAddress: generateMinaKeyPair().publicKey,
      tokenAddress: generateMinaKeyPair().publicKey,
      creditTokenId: TEST_CREDIT_TOKEN_ID,
      genuineCode: TEST_GENUINE_CODE,
    }),
  )
  return path
}

async function cli(...args: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: (t) => {
      stdout += t
    },
    stderr: (t) => {
      stderr += t
    },
  })
  return { code, stdout, stderr }
}

interface JsonReport {
  verdict: string
  exitCode: number
  links: VerificationLink[]
  outputs: OutputsSummary | null
  unverifiedOutputs?: OutputsSummary | null
}

/** The page's verdict: verifyResult with the page's readers over the same blocks and chain. */
async function pageLinks(target: VerifyTarget): Promise<VerificationLink[]> {
  return (await pageOutcome(target)).links
}

/** The page's whole outcome, outputs included. */
async function pageOutcome(target: VerifyTarget) {
  const reader = memoryBundleReader(blocks)
  return verifyResult(target, {
    bundle: reader,
    chain: new GraphqlChainReader(`${graphql.url}/graphql`, `${graphql.url}/archive`),
    genuine: TEST_GENUINE,
    poseidon: nodePoseidon,
    settled: settledResultsFrom(reader, async (o, d) => computeResultsRoot(o, d)),
  })
}

describe('zkrunner verify', () => {
  it('exits 0 on a settled, genuine result and lists every link in --json', async () => {
    const { code, stdout, stderr } = await cli(
      'verify',
      settled.cid,
      '--service',
      service.address,
      '--job',
      settled.jobId,
      '--config',
      config,
      '--json',
    )
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as JsonReport
    expect(report.verdict).toBe('verified')
    expect(report.links.map((l) => [l.id, l.status])).toEqual(
      Object.keys(LINKS).map((id) => [id, 'ok']),
    )
    expect(report.links.find((l) => l.id === 'settled')?.detail).toContain('leaf 0 of 1')
    // The job's typed outputs, from the signed manifest, with the digest a zkApp reads them by.
    expect(report.outputs).toEqual({
      valid: true,
      values: [
        { name: 'tests', type: 'integer', value: '25' },
        { name: 'passed', type: 'boolean', value: true },
      ],
      problems: [],
      outputsDigest: String(outputsDigest(settledManifest.outputs)),
      declaration: 'matches',
    })
  })

  it('prints the outputs in text, and an outputs-invalid job as such (still verified)', async () => {
    const jobId = newRequestId()
    const bundle = await bundleFixture(blocks, service, jobId, 'outputs-invalid')
    const args = ['verify', bundle.cid.toString(), '--service', service.address, '--job', jobId]
    const text = await cli(...args, '--config', config)
    expect(text.stdout).toContain('outputs: INVALID; declaration matches; outputsDigest ')
    expect(text.stdout).toContain('    tests (integer) = (not written)')
    expect(text.stdout).toContain('    problem: forged: not an output the service declares')
    const json = JSON.parse((await cli(...args, '--config', config, '--json')).stdout) as JsonReport
    expect(json.links.every((l) => l.status !== 'broken')).toBe(true)
    expect(json.outputs?.valid).toBe(false)
  })

  it('says which log the runner cut at its cap and how many bytes it dropped (still verified)', async () => {
    const jobId = newRequestId()
    const bundle = await bundleFixture(blocks, service, jobId, 'truncated-logs')
    const args = ['verify', bundle.cid.toString(), '--service', service.address, '--job', jobId]
    const text = await cli(...args, '--config', config)
    expect(text.stdout).toMatch(
      /stdout\.log truncated by the runner: the first \d+ bytes kept, 5000000 bytes of the job's output dropped after them/,
    )
    const json = JSON.parse((await cli(...args, '--config', config, '--json')).stdout) as {
      links: { status: string }[]
      truncatedLogs: { file: string; droppedBytes: number }[] | null
    }
    expect(json.links.every((l) => l.status !== 'broken')).toBe(true)
    expect(json.truncatedLogs).toMatchObject([{ file: 'stdout.log', droppedBytes: 5_000_000 }])
    // A job that lost nothing says nothing of it.
    const plain = await cli(
      'verify',
      settled.cid,
      '--service',
      service.address,
      '--job',
      settled.jobId,
      '--config',
      config,
    )
    expect(plain.stdout).not.toContain('truncated')
  })

  it('prints every link with its mark and detail, endpoints given by flags alone', async () => {
    const { code, stdout } = await cli(
      'verify',
      settled.cid,
      '--service',
      service.address,
      '--job',
      settled.jobId,
      '--graphql',
      `${graphql.url}/graphql`,
      '--archive',
      `${graphql.url}/archive`,
      '--gateway',
      gateway.url,
      '--credit-token-id',
      TEST_CREDIT_TOKEN_ID,
      '--genuine-code',
      JSON.stringify(TEST_GENUINE_CODE),
    )
    expect(code).toBe(0)
    for (const name of Object.values(LINKS)) expect(stdout).toContain(`✓ ${name}`)
    expect(stdout).toContain('verified: every link holds')
  })

  it('exits 1 naming the files link and the edited file for a tampered bundle', async () => {
    const jobId = newRequestId()
    const bundle = await bundleFixture(blocks, service, jobId, 'tampered-file')
    const { code, stdout } = await cli(
      'verify',
      bundle.cid.toString(),
      '--service',
      service.address,
      '--job',
      jobId,
      '--config',
      config,
      '--json',
    )
    expect(code).toBe(1)
    const report = JSON.parse(stdout) as JsonReport
    expect(report.verdict).toBe('broken')
    const broken = report.links.filter((l) => l.status === 'broken')
    expect(broken.map((l) => l.id)).toEqual(['files'])
    expect(broken[0]?.detail).toContain('stdout.log')
  })

  it('does not pass the manifest link when no job or request is given (exit 3)', async () => {
    const { code, stdout } = await cli(
      'verify',
      settled.cid,
      '--service',
      service.address,
      '--config',
      config,
    )
    expect(code).toBe(3)
    expect(stdout).toContain('– Manifest is well-formed and answers this request')
    expect(stdout).toContain('not checked (no request given)')
  })

  it("checks user and parameters against --request: another user's job of the same id is broken", async () => {
    const request = async (name: string, user?: string) => {
      const path = join(dir, name)
      await writeFile(path, JSON.stringify(requestFixture(service, settled.jobId, user)))
      return path
    }
    const args = ['verify', settled.cid, '--service', service.address, '--config', config]
    const own = await cli(...args, '--request', await request('own.json'), '--json')
    expect(own.code).toBe(0)
    const stranger = generateMinaKeyPair().publicKey
    const other = await cli(...args, '--request', await request('other.json', stranger), '--json')
    expect(other.code).toBe(1)
    const broken = (JSON.parse(other.stdout) as JsonReport).links.filter(
      (l) => l.status === 'broken',
    )
    expect(broken.map((l) => [l.id, l.detail])).toEqual([
      ['manifest', `manifest is for user ${service.user.publicKey}, not ${stranger}`],
    ])
    const mismatch = await cli(
      ...args,
      '--request',
      await request('own2.json'),
      '--job',
      newRequestId(),
    )
    expect(mismatch.code).toBe(2)
    expect(mismatch.stderr).toContain('--request is for job')
  })

  it('exits 2 with a clear message when no gateway answers', async () => {
    // A port nothing listens on: bind one, note it, close it.
    const dead = await startTrustlessGateway(new MemoryBlockstore())
    await dead.close()
    const path = await writeConfig('dead-gateway.json', [dead.url])
    const { code, stdout, stderr } = await cli(
      'verify',
      settled.cid,
      '--service',
      service.address,
      '--job',
      settled.jobId,
      '--config',
      path,
      '--json',
    )
    expect(code).toBe(2)
    expect(stderr).toContain(`cannot reach gateway ${dead.url}`)
    expect(stderr).toContain('no IPFS gateway answered')
    expect(JSON.parse(stdout)).toMatchObject({ error: { code: 'ENDPOINT_UNREACHABLE' } })
  })

  it('exits 2 for a CID that is not raw or dag-pb sha2-256, and for a path after the CID', async () => {
    const cbor = CID.parse(settled.cid).toV1()
    const dagCbor = CID.create(1, 0x71, cbor.multihash).toString()
    for (const bad of [dagCbor, `${settled.cid}?format=raw`, 'not-a-cid']) {
      const { code, stderr } = await cli(
        'verify',
        bad,
        '--service',
        service.address,
        '--config',
        config,
      )
      expect(code).toBe(2)
      expect(stderr).toContain(`zkrunner: bundle CID ${bad}`)
    }
    const { stderr } = await cli(
      'verify',
      dagCbor,
      '--service',
      service.address,
      '--config',
      config,
    )
    expect(stderr).toContain('not raw or dag-pb')
  })

  it('exits 2 for an address that is not a Mina key, a bad job id, or a missing endpoint', async () => {
    const notKey = `${service.address.slice(0, -1)}${service.address.endsWith('a') ? 'b' : 'a'}`
    const bad = await cli('verify', settled.cid, '--service', notKey, '--config', config)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('not a Mina public key')
    const job = await cli(
      'verify',
      settled.cid,
      '--service',
      service.address,
      '--job',
      'x',
      '--config',
      config,
    )
    expect(job.code).toBe(2)
    expect(job.stderr).toContain('--job x')
    const none = await cli('verify', settled.cid, '--service', service.address)
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('minaGraphqlUrl is missing: give --graphql <url>')
    const usage = await cli('verify', settled.cid)
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--service')
  })

  it('prints its help and exits 0', async () => {
    const { code, stdout } = await cli('verify', '--help')
    expect(code).toBe(0)
    expect(stdout).toContain('Exit status: 0 every link holds')
  })

  // The CLI and the page agree: each tampered link, the good bundle, another job, no job.
  it('exits 1 naming the service link for a genuine service whose escrow is short of what it owes', async () => {
    // The settled service's ledger owes its one depositor's credits; its vault holds one less.
    const escrow = `${service.address}:${TEST_CREDIT_TOKEN_ID}`
    const args = ['verify', settled.cid, '--service', service.address, '--job', settled.jobId]
    try {
      chain.balances.set(escrow, DEPOSIT - 1n)
      const { code, stdout } = await cli(...args, '--config', config, '--json')
      expect(code).toBe(1)
      const report = JSON.parse(stdout) as JsonReport
      expect(report.verdict).toBe('broken')
      expect(report.links.find((l) => l.id === 'service')).toMatchObject({
        status: 'broken',
        detail: expect.stringContaining('RECEIPTS_EXCEED_ESCROW'),
      })
      // No link holds for a service whose money does not add up.
      expect(report.links.filter((l) => l.status === 'ok')).toEqual([])
      // A gift above what it owes is accepted: verified again.
      chain.balances.set(escrow, DEPOSIT + 1_000n)
      expect((await cli(...args, '--config', config, '--json')).code).toBe(0)
    } finally {
      chain.balances.delete(escrow)
    }
  })

  it('reaches the page’s verdict link by link on every fixture', async () => {
    const variants: BundleVariant[] = [
      'good',
      'tampered-file',
      'wrong-signature',
      'wrong-source',
      'duplicate-key',
      'agent-lost',
      'outputs-invalid',
      'outputs-undeclared',
    ]
    const cases: { target: VerifyTarget; flags: string[] }[] = [
      {
        target: { bundleCid: settled.cid, service: service.address, jobId: settled.jobId },
        flags: ['--job', settled.jobId],
      },
      { target: { bundleCid: settled.cid, service: service.address }, flags: [] },
    ]
    for (const variant of variants) {
      const jobId = newRequestId()
      const bundle = await bundleFixture(blocks, service, jobId, variant)
      cases.push({
        target: { bundleCid: bundle.cid.toString(), service: service.address, jobId },
        flags: ['--job', jobId],
      })
    }
    // A look-alike whose ledger's escrow is a plain account, not its LedgerVault: the service link.
    const unsafe = await serviceFixture(blocks, {
      workerPublicKey: service.descriptor.workerPublicKey,
    })
    chain.states.set(unsafe.address, unsafe.state)
    chain.fakeVaults = new Set([unsafe.address])
    const unsafeJob = newRequestId()
    const unsafeBundle = await bundleFixture(blocks, unsafe, unsafeJob)
    cases.push({
      target: { bundleCid: unsafeBundle.cid.toString(), service: unsafe.address, jobId: unsafeJob },
      flags: ['--job', unsafeJob],
    })
    const other = newRequestId()
    cases.push({
      target: { bundleCid: settled.cid, service: service.address, jobId: other },
      flags: ['--job', other],
    })
    const verdicts: string[] = []
    let brokenWithOutputs = 0
    for (const { target, flags } of cases) {
      const { stdout } = await cli(
        'verify',
        target.bundleCid,
        '--service',
        target.service,
        ...flags,
        '--config',
        config,
        '--json',
      )
      const report = JSON.parse(stdout) as JsonReport
      const page = await pageOutcome(target)
      expect(report.links).toEqual(page.links)
      if (report.verdict === 'broken') {
        // A broken result's outputs are never where a script reads vouched-for values.
        expect(report.outputs).toBeNull()
        expect(report.unverifiedOutputs).toEqual(page.outputs)
        if (page.outputs) brokenWithOutputs++
      } else expect(report.outputs).toEqual(page.outputs)
      verdicts.push(report.verdict)
    }
    expect(brokenWithOutputs).toBeGreaterThan(0)
    // Not a vacuous agreement: the fixtures cover every verdict.
    expect(new Set(verdicts)).toEqual(new Set(['verified', 'broken', 'incomplete']))
    expect(
      (await pageLinks(cases.at(-2)!.target)).find((l) => l.id === 'service')?.detail,
    ).toContain('NO_LEDGER_VAULT')
  })
})

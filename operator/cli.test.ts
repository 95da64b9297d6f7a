import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PrivateKey, setBackend } from 'o1js'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type LocalChainNode, startLocalChain } from '../chain/index.ts'
import { main as deploy } from '../contracts/deploy-cli.ts'
import type { DeployConfig } from '../contracts/deploy-config.ts'
import { writeKeyFile } from '../contracts/key-file.ts'
import { TEST_TOKEN_KEY } from '../contracts/test-chain.ts'
import {
  generateHpkeKeyPair,
  keyId,
  openJson,
  parseServiceRegistration,
  type ServiceRegistration,
  TRIGGER_TOKEN_INFO,
  verifyServiceRegistration,
} from '../protocol/index.ts'
import { main } from './cli.ts'

// `offer` end to end on the local chain (proofs not verified), the runner's real IPFS store and a
// Worker double that checks what the real Worker checks of a registration (shape, operator
// signature, sealed credentials it can open). Each run is interrupted at a different step; the
// re-runs end in one deployed, published, heartbeat-live and registered version.

let node: LocalChainNode
let dir: string
let configPath: string
const hpke = await generateHpkeKeyPair()

/** The Worker's /v1/services, with an outage switch. */
const worker = {
  down: false,
  registrations: [] as ServiceRegistration[],
  credentials: [] as unknown[],
  fetch: (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input))
    if (worker.down) return new Response('unavailable', { status: 503 })
    if (init?.method === 'POST' && url.pathname === '/v1/services') {
      const parsed = parseServiceRegistration(JSON.parse(String(init.body)))
      if (!parsed.ok || !verifyServiceRegistration(parsed.value).ok) {
        return Response.json({ error: { code: 'BAD_SIGNATURE', message: 'no' } }, { status: 403 })
      }
      const opened = await openJson(
        [{ kid: keyId(hpke.publicKey), privateKey: hpke.privateKey }],
        parsed.value.triggerToken,
        TRIGGER_TOKEN_INFO,
      )
      if (!opened.ok) return Response.json({ error: { code: 'DECRYPT_FAILED' } }, { status: 400 })
      worker.credentials.push(opened.value)
      worker.registrations.push(parsed.value)
      return Response.json({ service: parsed.value.service, registeredAt: 1 }, { status: 201 })
    }
    const address = url.pathname.replace('/v1/services/', '')
    const r = worker.registrations.findLast((x) => x.service === address)
    return Response.json({ registered: !!r, descriptorCid: r?.descriptorCid })
  }) as typeof fetch,
}

const run = async (...argv: string[]) => {
  const out: string[] = []
  const err: string[] = []
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }
  const code = argv[0] === 'offer' ? await main(argv, io, worker.fetch) : await deploy(argv, io)
  return { code, out: out.join('\n'), err }
}

beforeAll(async () => {
  setBackend('native')
  node = await startLocalChain({ port: 0, autoAdvance: false, proofsEnabled: false })
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-offer-'))
  configPath = join(dir, 'deploy.json')
  await writeKeyFile(
    join(dir, 'fee-payer.json'),
    PrivateKey.fromBase58(node.accounts[0]?.privateKey ?? ''),
  )
  await writeKeyFile(join(dir, '.zkrunner/keys/local/credit-token.json'), TEST_TOKEN_KEY)
  const config: DeployConfig = {
    deployAliases: {
      local: {
        networkId: 'devnet',
        url: node.url,
        archive: node.archiveUrl,
        feePayerKeyPath: 'fee-payer.json',
        fee: '0.1',
      },
    },
  }
  await writeFile(configPath, JSON.stringify(config, null, 2))
  for (const cmd of ['token', 'registry']) {
    const r = await run('local', cmd, '--config', configPath)
    if (r.code !== 0) throw new Error(r.err.join('\n'))
  }
}, 900_000)

afterAll(async () => {
  await node?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

it('offers a new service in one command, resuming after a failure at each step', async () => {
  // A new operator's runner key, not yet funded: the first run stops before deploying.
  const runnerKey = PrivateKey.random()
  const runner = runnerKey.toPublicKey().toBase58()
  await writeKeyFile(join(dir, 'runner.json'), runnerKey)
  const example = JSON.parse(
    await readFile(new URL('../examples/lint-docs/service.json', import.meta.url), 'utf8'),
  )
  const descriptorPath = join(dir, 'service.json')
  await writeFile(
    descriptorPath,
    JSON.stringify({ ...example, runnerPublicKey: runner, workerPublicKey: hpke.publicKey }),
  )
  await writeFile(
    join(dir, 'credentials.json'),
    JSON.stringify({ triggerToken: 'glptt-secret', webhookSecret: 'whsec-0123456789abcdef' }),
  )
  const offer = () =>
    run(
      'offer',
      'local',
      descriptorPath,
      '--config',
      configPath,
      '--runner-key',
      join(dir, 'runner.json'),
      '--credentials',
      join(dir, 'credentials.json'),
      '--worker',
      'http://worker.test',
      '--ipfs-dir',
      join(dir, 'agent'),
      '--page',
      'http://127.0.0.1:5173',
    )
  const services = async () =>
    (JSON.parse(await readFile(configPath, 'utf8')) as DeployConfig).deployAliases.local
      ?.services ?? {}

  const unfunded = await offer()
  expect(unfunded.code).toBe(1)
  expect(unfunded.out).toContain('descriptor pinned: bafkrei')
  expect(unfunded.err.join('\n')).toContain(`npm run deploy -- local fund ${runner} 10`)
  expect(await services()).toEqual({})

  const fund = await run('local', 'fund', runner, '10', '--config', configPath)
  expect(fund.code).toBe(0)

  // The Worker is down: deployed and live on chain, not registered.
  worker.down = true
  const noWorker = await offer()
  expect(noWorker.code).toBe(1)
  expect(noWorker.out).toContain('deployed, frozen and published')
  expect(Object.values(await services())).toHaveLength(1)
  const [cid, address] = Object.entries(await services())[0] ?? []
  expect(worker.registrations).toHaveLength(0)

  worker.down = false
  const resumed = await offer()
  expect(resumed.err).toEqual([])
  expect(resumed.code).toBe(0)
  expect(resumed.out).toContain(`already deployed and published: ${address}`)
  expect(resumed.out).not.toContain('deploying the service version')
  expect(resumed.out).toContain(`service ${address}, descriptor ${cid}`)
  expect(resumed.out).toContain('page: http://127.0.0.1:5173')
  expect(worker.registrations).toHaveLength(1)
  expect(worker.registrations[0]?.descriptorCid).toBe(cid)
  // Deposits are read from the service's ledger: the registration names no receipt token.
  expect(worker.registrations[0]).not.toHaveProperty('receiptTokenId')
  expect(worker.credentials).toEqual([
    { v: 1, triggerToken: 'glptt-secret', webhookSecret: 'whsec-0123456789abcdef' },
  ])

  // Everything done: a re-run changes nothing.
  const again = await offer()
  expect(again.code).toBe(0)
  expect(again.out).toContain('already registered with the Worker')
  expect(worker.registrations).toHaveLength(1)
  expect(Object.values(await services())).toHaveLength(1)
}, 900_000)

it('refuses a descriptor it cannot offer before touching the network', async () => {
  await writeFile(join(dir, 'bad.json'), JSON.stringify({ v: 1, name: 'x' }))
  const r = await run(
    'offer',
    'local',
    join(dir, 'bad.json'),
    '--config',
    configPath,
    '--runner-key',
    join(dir, 'runner.json'),
    '--credentials',
    join(dir, 'credentials.json'),
    '--worker',
    'http://worker.test',
    '--ipfs-dir',
    join(dir, 'agent'),
  )
  expect(r.code).toBe(1)
  expect(r.err[0]).toMatch(/^operator: INVALID_DESCRIPTOR: /)
})

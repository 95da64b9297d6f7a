import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Field, Poseidon, PrivateKey, PublicKey, setBackend } from 'o1js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalChainNode, startLocalChain } from '../chain/index.ts'
import {
  canonicalBytes,
  cidToFields,
  commitToField,
  privateCommitment,
  type ServiceDescriptor,
  sourceCommitmentToField,
  unwrap,
} from '../protocol/index.ts'
import { ledgerOf, readCredits, readServiceState } from './client.ts'
import { main } from './deploy-cli.ts'
import type { DeployConfig } from './deploy-config.ts'
import { writeKeyFile } from './key-file.ts'
import { ServiceRegistry } from './service-registry.ts'
import { workerKeyHash } from './service-version.ts'
import { TEST_TOKEN_KEY } from './test-chain.ts'

// The deploy command end to end against the local node in-process (proofs not verified, but
// every transaction is proved as on devnet): token, mint, registry, service, status on a temp
// deploy.json; then the one-line errors of bad input. The credit token key is the tests' fixed
// one, pre-written into the key dir, so the compiled circuits come from the cache.

let node: LocalChainNode
let dir: string
let configPath: string

const run = async (...argv: string[]) => {
  const out: string[] = []
  const err: string[] = []
  const code = await main([...argv, '--config', configPath], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  })
  return { code, out: out.join('\n'), err }
}

/** A registry Published event's data, as o1js decodes it. */
type Published = {
  service: PublicKey
  operator: PublicKey
  descriptorCid0: Field
  descriptorCid1: Field
}

const readConfig = async () => JSON.parse(await readFile(configPath, 'utf8')) as DeployConfig

beforeAll(async () => {
  setBackend('native')
  // The node announces a far-off hard fork, as a stop-slot release would: `status` must say so.
  node = await startLocalChain({
    port: 0,
    autoAdvance: false,
    proofsEnabled: false,
    slotTxEnd: 1_000_000,
  })
  dir = await mkdtemp(join(tmpdir(), 'zkrunner-deploy-cli-'))
  configPath = join(dir, 'deploy.json')
  const fee = PrivateKey.fromBase58(node.accounts[0]?.privateKey ?? '')
  await writeKeyFile(join(dir, 'fee-payer.json'), fee)
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
})

afterAll(async () => {
  await node?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('npm run deploy', () => {
  it('deploys token, mints, deploys the registry and a service, and reports status', async () => {
    const token = await run('local', 'token', '--symbol', 'CRED', '--decimals', '0')
    expect(token.err).toEqual([])
    expect(token.code).toBe(0)
    const tokenAddress = TEST_TOKEN_KEY.toPublicKey().toBase58()
    expect((await readConfig()).deployAliases.local?.creditToken).toBe(tokenAddress)
    expect(token.out).toContain('included')

    const user = PrivateKey.random().toPublicKey()
    const mint = await run('local', 'mint', '--to', user.toBase58(), '--amount', '25')
    expect(mint.err).toEqual([])
    expect(mint.code).toBe(0)
    expect(await readCredits(user)).toBe(25n)

    const registry = await run('local', 'registry')
    expect(registry.err).toEqual([])
    expect(registry.code).toBe(0)
    const registryAddress = (await readConfig()).deployAliases.local?.registry
    expect(registryAddress).toMatch(/^B62/)

    // The runner signs the registry entry, so it needs a MINA account: a funded dev account.
    const runnerKey = PrivateKey.fromBase58(node.accounts[1]?.privateKey ?? '')
    await writeKeyFile(join(dir, 'runner.json'), runnerKey)
    const descriptor: ServiceDescriptor = {
      v: 1,
      name: 'Count primes',
      description: 'deploy command test',
      provider: 'gitlab',
      providerUrl: 'https://gitlab.example.com',
      project: 'zkrunner/sample',
      ref: 'main',
      job: 'test',
      sourceCommitment: '3f786850e387550fdab836ed7e6dc881de23001b',
      pricePerJob: '7',
      runnerPublicKey: runnerKey.toPublicKey().toBase58(),
      workerPublicKey: '9OBIjAZmFQo0ktHADYbSq3DNwTj4enwdR_9VBkBO1UU',
      parameters: [],
    }
    const bytes = canonicalBytes(descriptor)
    await writeFile(join(dir, 'descriptor.json'), bytes)
    const cid = CID.create(1, raw.code, await sha256.digest(bytes)).toString()
    const service = await run(
      'local',
      'service',
      '--descriptor',
      join(dir, 'descriptor.json'),
      '--descriptor-cid',
      cid,
      '--runner-key',
      join(dir, 'runner.json'),
      '--timelock-slots',
      '40',
    )
    expect(service.err).toEqual([])
    expect(service.code).toBe(0)
    const serviceAddress = (await readConfig()).deployAliases.local?.services?.[cid]
    expect(serviceAddress).toMatch(/^B62/)
    const servicePk = PublicKey.fromBase58(serviceAddress ?? '')
    expect(service.out).toContain(`service ${serviceAddress}`)
    expect(service.out).toContain(`ledger ${(await ledgerOf(servicePk)).toBase58()}`)

    const state = await readServiceState(servicePk)
    const cidFields = cidToFields(cid)
    if (!cidFields.ok) throw cidFields.error
    expect(state.sourceCommitment).toBe(commitToField(descriptor.sourceCommitment))
    expect(state.descriptorCid).toEqual(cidFields.value)
    expect(state.terms).toEqual({ pricePerJob: 7n, withdrawTimelockSlots: 40n })
    expect(state.runnerKeyHash).toBe(Poseidon.hash(runnerKey.toPublicKey().toFields()).toBigInt())
    expect(state.workerKeyHash).toBe(workerKeyHash(descriptor.workerPublicKey).toBigInt())
    expect(Field(state.heartbeat.settledJobs).toBigInt()).toBe(0n)

    const status = await run('local', 'status')
    expect(status.err).toEqual([])
    expect(status.code).toBe(0)
    expect(status.out).toContain(`creditToken ${tokenAddress}: on chain`)
    expect(status.out).toContain(`registry ${registryAddress}: on chain`)
    expect(status.out).toMatch(
      /network upgrade announced: transactions stop at slot 1000000 \(\d+ slots from now\)/,
    )
    expect(status.out).toContain(`service ${serviceAddress}: on chain`)
    // The deploy path the stack uses yields a service the readers accept, with compiled keys.
    expect(status.out).toMatch(
      new RegExp(`service ${serviceAddress}: on chain .*genuine and frozen`),
    )
    expect(status.out).toMatch(/fee payer B62\w+: [\d.]+ MINA/)

    // Deploying the same token or descriptor again is refused.
    const again = await run('local', 'token')
    expect(again.code).not.toBe(0)
    expect(again.err[0]).toMatch(/^deploy: ALREADY_DEPLOYED: /)
  })

  it('deploys a private service naming no coordinate, and reveals it only with the right opening', async () => {
    const runnerKey = PrivateKey.fromBase58(node.accounts[1]?.privateKey ?? '')
    const opening = {
      salt: 'ab'.repeat(31),
      providerUrl: 'https://gitlab.example.com',
      project: 'acme/secret-primes',
      commit: '3f786850e387550fdab836ed7e6dc881de23001b',
    }
    const descriptor: ServiceDescriptor = {
      v: 1,
      name: 'Count primes (private)',
      description: '',
      provider: 'gitlab',
      visibility: 'private',
      sourceCommitment: privateCommitment(opening),
      pricePerJob: '7',
      runnerPublicKey: runnerKey.toPublicKey().toBase58(),
      workerPublicKey: '9OBIjAZmFQo0ktHADYbSq3DNwTj4enwdR_9VBkBO1UU',
      parameters: [],
    }
    await writeFile(join(dir, 'private.json'), canonicalBytes(descriptor))
    const deployedService = await run(
      'local',
      'service',
      '--descriptor',
      join(dir, 'private.json'),
      '--runner-key',
      join(dir, 'runner.json'),
      '--timelock-slots',
      '40',
    )
    expect(deployedService.err).toEqual([])
    expect(deployedService.out).not.toContain(opening.project)
    expect(deployedService.out).not.toContain(opening.commit)
    const address = deployedService.out.match(/^service (B62\w+)$/m)?.[1] ?? ''
    const state = await readServiceState(PublicKey.fromBase58(address))
    expect(state.sourceCommitment).toBe(sourceCommitmentToField(descriptor.sourceCommitment))

    const file = { service: address, provider: 'gitlab', ref: 'main', job: 'test', ...opening }
    const reveal = async (body: unknown) => {
      await writeFile(join(dir, 'opening.json'), JSON.stringify(body))
      return run(
        'local',
        'reveal',
        '--opening',
        join(dir, 'opening.json'),
        '--runner-key',
        join(dir, 'runner.json'),
      )
    }
    const registry = new ServiceRegistry(
      PublicKey.fromBase58((await readConfig()).deployAliases.local?.registry ?? ''),
    )
    const listed = async () => (await registry.fetchEvents()).filter((e) => e.type === 'Published')
    const before = (await listed()).length

    const wrong = await reveal({ ...file, commit: 'b'.repeat(40) })
    expect(wrong.code).toBe(1)
    expect(wrong.err[0]).toMatch(/^deploy: WRONG_OPENING: .*nothing was published$/)
    const malformed = await reveal({ ...file, salt: 'zz' })
    expect(malformed.err[0]).toMatch(/^deploy: INVALID_REVEAL: .*salt/)
    expect(await listed()).toHaveLength(before)

    const right = await reveal(file)
    expect(right.err).toEqual([])
    const cid = right.out.match(/^revealed B62\w+: (\w+)$/m)?.[1] ?? ''
    const fields = unwrap(cidToFields(cid))
    const events = await listed()
    expect(events).toHaveLength(before + 1)
    // The archive answers newest block first (as Mina's does): the newest listing is the reveal,
    // of this service, signed by its runner.
    const newest = [...events].sort((a, b) =>
      Number(b.blockHeight.toBigint() - a.blockHeight.toBigint()),
    )[0]?.event.data as unknown as Published | undefined
    expect([newest?.descriptorCid0.toBigInt(), newest?.descriptorCid1.toBigInt()]).toEqual(fields)
    expect(newest?.service.toBase58()).toBe(address)
    expect(newest?.operator.toBase58()).toBe(runnerKey.toPublicKey().toBase58())
    const doc = JSON.parse(
      await readFile(join(dir, '.zkrunner/keys/local/reveals', `${cid}.json`), 'utf8'),
    )
    expect(doc).toMatchObject({
      kind: 'zkrunner/source-reveal',
      commitment: descriptor.sourceCommitment,
    })
  })

  it('funds any key on a local chain and never points a local alias to the public faucet', async () => {
    const config = await readConfig()
    const local = config.deployAliases.local
    if (!local) throw new Error('no local alias')
    // Same network, a new fee payer and nothing deployed yet.
    const network = {
      networkId: local.networkId,
      url: local.url,
      archive: local.archive,
      fee: local.fee,
    }
    config.deployAliases.fresh = { ...network, feePayerKeyPath: 'fresh-payer.json' }
    config.deployAliases.remote = {
      ...network,
      feePayerKeyPath: 'fresh-payer.json',
      url: 'https://api.minascan.io/node/devnet/v1/graphql',
      archive: 'https://api.minascan.io/archive/devnet/v1/graphql',
    }
    await writeFile(configPath, JSON.stringify(config, null, 2))

    const keygen = await run('fresh', 'keygen')
    expect(keygen.code).toBe(0)
    const payer = /fee payer (B62\w+)/.exec(keygen.out)?.[1] ?? ''
    expect(keygen.out).toContain(`npm run deploy -- fresh fund ${payer} 10`)
    expect(keygen.out).not.toContain('faucet')

    // The new key has no account yet: the error says how to fund it locally.
    const unfunded = await run('fresh', 'registry')
    expect(unfunded.code).toBe(1)
    expect(unfunded.err[0]).toMatch(/^deploy: NETWORK: fee payer B62\w+ has no account/)
    expect(unfunded.err[0]).toContain(`npm run deploy -- fresh fund ${payer} 10`)
    expect(unfunded.err[0]).not.toContain('faucet')

    const fund = await run('fresh', 'fund', payer, '2.5')
    expect(fund.err).toEqual([])
    expect(fund.code).toBe(0)
    expect(fund.out).toContain(`balance of ${payer}: 2.5 MINA`)
    // An existing account is topped up (no creation fee this time), and the dev account was
    // released: the account manager hands it out again.
    const again = await run('fresh', 'fund', payer, '1')
    expect(again.code).toBe(0)
    expect(again.out).toContain(`balance of ${payer}: 3.5 MINA`)
    const status = await run('fresh', 'status')
    expect(status.out).toContain(`fee payer ${payer}: 3.5 MINA`)

    const remote = await run('remote', 'fund', payer, '1')
    expect(remote.code).toBe(1)
    expect(remote.err[0]).toMatch(/^deploy: NOT_LOCAL: .*faucet\.minaprotocol\.com/)
    const zero = await run('fresh', 'fund', payer, '0')
    expect(zero.err[0]).toMatch(/^deploy: USAGE: <MINA>: must be more than 0/)
    const badAddress = await run('fresh', 'fund', 'B62nope', '1')
    expect(badAddress.err[0]).toMatch(/^deploy: USAGE: <address>: /)
  })

  it('refuses bad input with a one-line error and a non-zero exit', async () => {
    const bad = async (expected: RegExp, ...argv: string[]) => {
      const r = await run(...argv)
      expect(r.code).not.toBe(0)
      expect(r.err).toHaveLength(1)
      expect(r.err[0]).toMatch(expected)
      expect(r.err[0]).not.toContain('\n')
    }
    const serviceArgs = (descriptor: string) => [
      'service',
      '--descriptor',
      descriptor,
      '--descriptor-cid',
      'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
      '--runner-key',
      join(dir, 'runner.json'),
      '--timelock-slots',
      '40',
    ]
    await bad(/^deploy: UNKNOWN_ALIAS: no alias "nowhere"/, 'nowhere', 'status')
    await bad(/^deploy: DESCRIPTOR_NOT_FOUND: /, 'local', ...serviceArgs(join(dir, 'absent.json')))
    await writeFile(join(dir, 'invalid.json'), JSON.stringify({ v: 1, name: 'x' }))
    await bad(/^deploy: INVALID_DESCRIPTOR: /, 'local', ...serviceArgs(join(dir, 'invalid.json')))
    await writeFile(join(dir, 'not-json.json'), '{ nope')
    await bad(/^deploy: INVALID_DESCRIPTOR: /, 'local', ...serviceArgs(join(dir, 'not-json.json')))
    // A hand-given CID that is not the descriptor's (here: of the file's bytes, without the
    // defaults the parsed descriptor has) is refused before anything is deployed.
    const runner = PrivateKey.fromBase58(node.accounts[1]?.privateKey ?? '').toPublicKey()
    const sparse = {
      v: 1,
      name: 'Mismatch',
      provider: 'gitlab',
      providerUrl: 'https://gitlab.example.com',
      project: 'p',
      ref: 'main',
      job: 'j',
      sourceCommitment: 'a'.repeat(40),
      pricePerJob: '0',
      runnerPublicKey: runner.toBase58(),
      workerPublicKey: '9OBIjAZmFQo0ktHADYbSq3DNwTj4enwdR_9VBkBO1UU',
    }
    const sparseBytes = canonicalBytes(sparse)
    await writeFile(join(dir, 'sparse.json'), sparseBytes)
    const fileCid = CID.create(1, raw.code, await sha256.digest(sparseBytes)).toString()
    const before = await readFile(configPath, 'utf8')
    const mismatch = serviceArgs(join(dir, 'sparse.json'))
    mismatch[4] = fileCid
    await bad(
      /^deploy: DESCRIPTOR_CID_MISMATCH: --descriptor-cid bafk\w+ is not/,
      'local',
      ...mismatch,
    )
    expect(await readFile(configPath, 'utf8')).toBe(before)
    await expect(
      readFile(join(dir, `.zkrunner/keys/local/services/${fileCid}.json`)),
    ).rejects.toThrow()
    await bad(/^deploy: USAGE: --to: /, 'local', 'mint', '--to', 'B62nope', '--amount', '1')
    await bad(/^deploy: USAGE: /, 'local', 'service', '--descriptor', 'x.json')
    await bad(/^deploy: USAGE: /, 'local', 'frobnicate')
    await bad(/^deploy: USAGE: missing <alias>/)
  })
})

import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import {
  Cache,
  fetchLastBlock,
  Mina,
  Poseidon,
  PrivateKey,
  PublicKey,
  setBackend,
  TokenId,
} from 'o1js'
import { z } from 'zod'
import {
  checkGenuineService,
  checkSourceReveal,
  cidToFields,
  fieldToPrivateCommitment,
  isPublicKey,
  ProtocolError,
  parseServiceDescriptor,
  type ServiceDescriptor,
  type SourceReveal,
  SourceRevealSchema,
  serviceDescriptorCid,
  sha256,
  sourceRevealBytes,
  unwrap,
  WITHDRAW_TIMELOCK_BOUNDS,
} from '../protocol/index.ts'
import {
  accountExists,
  deployCreditToken,
  deployRegistry,
  deployService,
  type FeePayer,
  mintCredits,
  publishService,
  readCredits,
  readServiceState,
} from './client.ts'
import { DEFAULT_CACHE_DIR, ensureCompiled, ensureCompiledAll, genuineCode } from './compile.ts'
import { CreditAdmin } from './credit-admin.ts'
import { CreditToken, setCreditTokenAddress } from './credit-token.ts'
import {
  DeployError,
  loadAlias,
  MinaAmountSchema,
  minaToNanomina,
  nanominaToMina,
  type ResolvedAlias,
  recordInAlias,
} from './deploy-config.ts'
import { ensureKeyFile, readKeyFile, writeKeyFile } from './key-file.ts'
import { fundFromDevAccount } from './local-fund.ts'
import { selectNetwork } from './network.ts'
import { readServiceAccounts, readSolvency, readUpgradeNotice } from './service-accounts.ts'
import { ServiceRegistry } from './service-registry.ts'
import { serviceDeployProps } from './service-version.ts'

// `npm run deploy -- <alias> <command> [options]`: the operator's deploy command, like
// zkapp-cli's `zk deploy <alias>`. Deploys the credit token, mints, deploys the registry and
// frozen service versions on the network of a deploy.json alias, and writes the addresses back.

/** Where the command writes: progress lines to `out`, the one-line error to `err`. */
export interface DeployIo {
  out: (line: string) => void
  err: (line: string) => void
}

const stdio: DeployIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

const DEFAULT_SRC = 'https://github.com/zkrunner/zkrunner/blob/main/contracts/credit-token.ts'
const FAUCET = 'https://faucet.minaprotocol.com'

const UINT64_MAX = (1n << 64n) - 1n
const publicKeyArg = z.string().refine(isPublicKey, 'must be a Mina public key (B62…)')
const uint = (max: bigint, min = 0n) =>
  z
    .string()
    .regex(/^[0-9]{1,20}$/, 'must be a decimal integer')
    .transform((s) => BigInt(s))
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`)

/**
 * Validates one flag (or a `<positional>` argument) with zod; a failure is a one-line USAGE error
 * naming it.
 */
function flag<T>(name: string, schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value)
  if (!r.success) {
    const label = name.startsWith('<') ? name : `--${name}`
    throw new DeployError('USAGE', `${label}: ${r.error.issues.map((i) => i.message).join('; ')}`)
  }
  return r.data
}

/**
 * Proves natively. Only possible before o1js initializes its bindings: a host process (a test)
 * that already initialized them keeps its backend.
 */
function useNativeBackend(): void {
  try {
    setBackend('native')
  } catch {
    // Bindings already up: prove with the backend they were started with.
  }
}

/** What every command works with once the alias is resolved and the network selected. */
interface Session {
  at: ResolvedAlias
  payer: FeePayer
  io: DeployIo
  /** Polling of `wait()`: quick on a loopback node, Mina's block time elsewhere. */
  poll: { interval: number; maxAttempts: number }
}

const isLoopback = (url: string) => /^https?:\/\/(127\.|localhost|\[::1\])/.test(url)

/** Selects the alias's network, checks it answers, and loads the fee payer. */
async function connect(at: ResolvedAlias, io: DeployIo): Promise<Session> {
  selectNetwork(at.alias.url, at.alias.archive, at.alias.networkId, { prove: at.alias.prove })
  let height: string
  try {
    height = (await fetchLastBlock(at.alias.url)).blockchainLength.toString()
  } catch (e) {
    throw new DeployError('NETWORK', `${at.alias.url} does not answer: ${(e as Error).message}`)
  }
  io.out(`${at.name}: ${at.alias.networkId} at ${at.alias.url} (block ${height})`)
  const key = await readKeyFile(at.feePayerKeyPath, 'fee payer')
  const poll = isLoopback(at.alias.url)
    ? { interval: 1000, maxAttempts: 300 }
    : { interval: 20_000, maxAttempts: 60 }
  return { at, payer: { key, fee: at.feeNanomina }, io, poll }
}

/**
 * How to fund `address` on the alias's network: a local chain's dev accounts (never a public
 * faucet, which cannot reach a loopback chain), a testnet's faucet, or mainnet MINA.
 */
function fundingHint(at: ResolvedAlias, address: string): string {
  if (isLoopback(at.alias.url)) return `fund it: npm run deploy -- ${at.name} fund ${address} 10`
  if (at.alias.networkId === 'mainnet') return 'send it MINA'
  return `fund it at ${FAUCET}/?address=${address}`
}

/** Fails unless the fee payer has a MINA account (a fresh key must be funded first). */
async function requireFunded(s: Session): Promise<void> {
  const pk = s.payer.key.toPublicKey().toBase58()
  if (!(await accountExists(s.payer.key.toPublicKey()))) {
    throw new DeployError('NETWORK', `fee payer ${pk} has no account: ${fundingHint(s.at, pk)}`)
  }
}

/** Compiles `contracts` with the key cache (the first run takes minutes). */
async function compile(
  s: Session,
  creditToken: PublicKey,
  contracts: { compile: (o: { cache: Cache }) => Promise<unknown> }[] | 'all',
): Promise<void> {
  setCreditTokenAddress(creditToken)
  s.io.out(`compiling (keys cached in ${DEFAULT_CACHE_DIR})…`)
  const t0 = performance.now()
  if (contracts === 'all') {
    await ensureCompiledAll(creditToken)
  } else {
    await ensureCompiled(contracts, creditToken)
  }
  s.io.out(`compiled in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
}

/** Builds, proves and sends one transaction, then waits for its inclusion. */
async function send(
  s: Session,
  what: string,
  tx: () => Promise<{ hash: string; wait: (o?: Session['poll']) => Promise<unknown> }>,
): Promise<void> {
  s.io.out(`${what}: proving and sending…`)
  let pending: Awaited<ReturnType<typeof tx>>
  try {
    pending = await tx()
  } catch (e) {
    throw new DeployError('TRANSACTION', `${what}: ${(e as Error).message}`)
  }
  s.io.out(`${what}: sent ${pending.hash}, waiting for inclusion…`)
  try {
    await pending.wait(s.poll)
  } catch (e) {
    throw new DeployError(
      'TRANSACTION',
      `${what}: ${pending.hash} not included: ${(e as Error).message}`,
    )
  }
  s.io.out(`${what}: included`)
}

const keyPath = (at: ResolvedAlias, name: string) => join(at.keysDir, `${name}.json`)

function deployed(at: ResolvedAlias, field: 'creditToken' | 'registry', hint: string): PublicKey {
  const address = at.alias[field]
  if (!address) {
    throw new DeployError('NOT_DEPLOYED', `alias ${at.name} has no ${field}: run \`${hint}\` first`)
  }
  return PublicKey.fromBase58(address)
}

async function tokenCommand(
  at: ResolvedAlias,
  io: DeployIo,
  o: { symbol: string; decimals: string; adminKey?: string; src: string },
) {
  const symbol = flag(
    'symbol',
    z.string().regex(/^[A-Za-z0-9]{1,6}$/, '1 to 6 letters or digits'),
    o.symbol,
  )
  const decimals = Number(flag('decimals', uint(9n), o.decimals))
  const src = flag('src', z.url(), o.src)
  const s = await connect(at, io)
  if (at.alias.creditToken && (await accountExists(PublicKey.fromBase58(at.alias.creditToken)))) {
    throw new DeployError(
      'ALREADY_DEPLOYED',
      `alias ${at.name} already has the credit token ${at.alias.creditToken} (remove creditToken from ${at.configPath} to deploy another)`,
    )
  }
  await requireFunded(s)
  const tokenKey = await ensureKeyFile(keyPath(at, 'credit-token'), 'credit token')
  const adminContractKey = await ensureKeyFile(
    keyPath(at, 'credit-admin-contract'),
    'admin contract',
  )
  const adminKey = o.adminKey
    ? { key: await readKeyFile(resolve(o.adminKey), 'admin'), created: false }
    : await ensureKeyFile(keyPath(at, 'credit-admin'), 'admin')
  for (const [name, k] of [
    ['credit token', tokenKey],
    ['admin contract', adminContractKey],
    ['admin', adminKey],
  ] as const) {
    io.out(
      `${name} key ${k.key.toPublicKey().toBase58()}${k.created ? ` (new, in ${at.keysDir})` : ''}`,
    )
  }
  const token = tokenKey.key.toPublicKey()
  await compile(s, token, [CreditAdmin, CreditToken])
  await send(s, `deploying credit token ${symbol}`, () =>
    deployCreditToken(s.payer, {
      tokenKey: tokenKey.key,
      adminContractKey: adminContractKey.key,
      admin: adminKey.key.toPublicKey(),
      symbol,
      decimals,
      src,
    }),
  )
  await recordInAlias(at.configPath, at.name, { creditToken: token.toBase58() })
  io.out(`creditToken ${token.toBase58()} (token id ${TokenId.toBase58(TokenId.derive(token))})`)
  io.out(`recorded in ${at.configPath}`)
}

async function mintCommand(
  at: ResolvedAlias,
  io: DeployIo,
  o: { to: string; amount: string; adminKey?: string },
) {
  const to = PublicKey.fromBase58(flag('to', publicKeyArg, o.to))
  const amount = flag('amount', uint(UINT64_MAX, 1n), o.amount)
  const token = deployed(at, 'creditToken', 'token')
  const adminKey = await readKeyFile(
    o.adminKey ? resolve(o.adminKey) : keyPath(at, 'credit-admin'),
    'admin',
  )
  const s = await connect(at, io)
  if (!(await accountExists(token))) {
    throw new DeployError('NOT_DEPLOYED', `credit token ${token.toBase58()} is not on chain`)
  }
  await requireFunded(s)
  await compile(s, token, [CreditAdmin, CreditToken])
  await send(s, `minting ${amount} credits to ${to.toBase58()}`, () =>
    mintCredits(s.payer, adminKey, to, amount),
  )
  io.out(`balance of ${to.toBase58()}: ${await readCredits(to)} credits`)
}

async function registryCommand(at: ResolvedAlias, io: DeployIo) {
  const s = await connect(at, io)
  if (at.alias.registry && (await accountExists(PublicKey.fromBase58(at.alias.registry)))) {
    throw new DeployError(
      'ALREADY_DEPLOYED',
      `alias ${at.name} already has the registry ${at.alias.registry} (remove registry from ${at.configPath} to deploy another)`,
    )
  }
  await requireFunded(s)
  const registryKey = await ensureKeyFile(keyPath(at, 'registry'), 'registry')
  const registry = registryKey.key.toPublicKey()
  // The registry does not depend on the credit token; compile under the alias's token if any.
  await compile(s, at.alias.creditToken ? PublicKey.fromBase58(at.alias.creditToken) : registry, [
    ServiceRegistry,
  ])
  await send(s, 'deploying the service registry', () => deployRegistry(s.payer, registryKey.key))
  await recordInAlias(at.configPath, at.name, { registry: registry.toBase58() })
  io.out(`registry ${registry.toBase58()}`)
  io.out(`recorded in ${at.configPath}`)
}

/** Reads and validates a service descriptor file. */
export async function readDescriptor(path: string): Promise<ServiceDescriptor> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new DeployError('DESCRIPTOR_NOT_FOUND', `${path} not found`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new DeployError('INVALID_DESCRIPTOR', `${path}: not JSON (${(e as Error).message})`)
  }
  const parsed = parseServiceDescriptor(json)
  if (!parsed.ok) {
    throw new DeployError(
      'INVALID_DESCRIPTOR',
      `${path}: ${parsed.error.code}: ${parsed.error.message}`,
    )
  }
  return parsed.value
}

async function serviceCommand(
  at: ResolvedAlias,
  io: DeployIo,
  o: { descriptor: string; descriptorCid?: string; runnerKey: string; timelockSlots: string },
) {
  const descriptorPath = resolve(o.descriptor)
  const descriptor = await readDescriptor(descriptorPath)
  // The CID frozen on chain is computed, never taken on trust: a contract frozen with a CID that
  // is not its descriptor's can never be used, and nothing can repair it.
  const descriptorCid = serviceDescriptorCid(descriptor).toString()
  if (o.descriptorCid !== undefined && o.descriptorCid !== descriptorCid) {
    throw new DeployError(
      'DESCRIPTOR_CID_MISMATCH',
      `--descriptor-cid ${o.descriptorCid} is not the descriptor's CID ${descriptorCid} (the CID of its parsed, defaults-filled canonical JSON); nothing was deployed`,
    )
  }
  const cid = unwrap(cidToFields(descriptorCid))
  // Refused here as a usage error before anything compiles; the contract's deploy refuses too.
  const { min, max } = WITHDRAW_TIMELOCK_BOUNDS
  const timelock = Number(flag('timelock-slots', uint(max, min), o.timelockSlots))
  const runnerKey = await readKeyFile(resolve(o.runnerKey), 'runner')
  const runner = runnerKey.toPublicKey().toBase58()
  if (runner !== descriptor.runnerPublicKey) {
    throw new DeployError(
      'RUNNER_KEY_MISMATCH',
      `runner key ${runner} is not the descriptor's runnerPublicKey ${descriptor.runnerPublicKey}`,
    )
  }
  const token = deployed(at, 'creditToken', 'token')
  const registry = deployed(at, 'registry', 'registry')
  const known = at.alias.services?.[descriptorCid]
  const s = await connect(at, io)
  if (known && (await accountExists(PublicKey.fromBase58(known)))) {
    throw new DeployError(
      'ALREADY_DEPLOYED',
      `descriptor ${descriptorCid} is already the service ${known} on ${at.name} (a new version needs a new descriptor)`,
    )
  }
  for (const [what, pk] of [
    ['credit token', token],
    ['registry', registry],
  ] as const) {
    if (!(await accountExists(pk))) {
      throw new DeployError('NOT_DEPLOYED', `${what} ${pk.toBase58()} is not on chain`)
    }
  }
  if (!(await accountExists(runnerKey.toPublicKey()))) {
    throw new DeployError(
      'NETWORK',
      `runner key ${runner} has no MINA account: it signs the registry entry; ${fundingHint(at, runner)}`,
    )
  }
  await requireFunded(s)
  const serviceKey = await ensureKeyFile(
    join(at.keysDir, 'services', `${descriptorCid}.json`),
    'service',
  )
  const service = serviceKey.key.toPublicKey()
  const ledgerKey = await ensureKeyFile(
    join(at.keysDir, 'ledgers', `${descriptorCid}.json`),
    'ledger',
    { evenY: true },
  )
  io.out(
    descriptor.visibility === 'private'
      ? `service ${descriptor.name}: private ${descriptor.provider} service (coordinates sealed)`
      : `service ${descriptor.name}: ${descriptor.provider} ${descriptor.project}@${descriptor.ref} job ${descriptor.job}`,
  )
  io.out(
    `  source ${descriptor.sourceCommitment}, ${descriptor.pricePerJob} credits per job, timelock ${timelock} slots`,
  )
  io.out(
    `  address ${service.toBase58()}${serviceKey.created ? ` (new key in ${at.keysDir})` : ''}`,
  )
  io.out(`  ledger ${ledgerKey.key.toPublicKey().toBase58()} (deposits and settlements)`)
  await compile(s, token, 'all')
  if (await accountExists(service)) {
    io.out('the service contract is already on chain (an earlier run stopped before publishing)')
  } else {
    await send(s, 'deploying the service version (frozen)', () =>
      deployService(
        s.payer,
        serviceKey.key,
        ledgerKey.key,
        serviceDeployProps(descriptor, descriptorCid, timelock),
      ),
    )
  }
  await send(s, 'publishing it in the registry', () =>
    publishService(s.payer, registry, runnerKey, service, cid),
  )
  await recordInAlias(at.configPath, at.name, {
    services: { ...at.alias.services, [descriptorCid]: service.toBase58() },
  })
  io.out(`service ${service.toBase58()}`)
  io.out(`ledger ${ledgerKey.key.toPublicKey().toBase58()}`)
  io.out(`recorded in ${at.configPath}`)
}

/** What the operator writes to reveal a private service: the reveal document less what the chain says. */
const OpeningFileSchema = SourceRevealSchema.omit({ v: true, kind: true, commitment: true })

/**
 * Reveals a private service's source: checks the opening against the commitment frozen in the
 * service contract (nothing is published when it does not open it), pins the reveal document in
 * the runner's IPFS store and lists its CID in the registry, signed by the runner key, as a later
 * Published event of the same service (the registry's existing method: no contract changes).
 */
async function revealCommand(
  at: ResolvedAlias,
  io: DeployIo,
  o: { opening: string; runnerKey: string; ipfsDir?: string },
) {
  let json: unknown
  try {
    json = JSON.parse(await readFile(resolve(o.opening), 'utf8'))
  } catch (e) {
    throw new DeployError(
      'INVALID_REVEAL',
      `${o.opening}: not a readable JSON file (${(e as Error).message})`,
    )
  }
  const parsed = OpeningFileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new DeployError(
      'INVALID_REVEAL',
      `${o.opening}: ${issue?.path.join('.') || 'opening'}: ${issue?.message ?? 'invalid'}`,
    )
  }
  const opening = parsed.data
  const runnerKey = await readKeyFile(resolve(o.runnerKey), 'runner')
  const registry = deployed(at, 'registry', 'registry')
  const s = await connect(at, io)
  const service = PublicKey.fromBase58(opening.service)
  if (!(await accountExists(service)))
    throw new DeployError('NOT_DEPLOYED', `service ${opening.service} is not on chain`)
  const state = await readServiceState(service)
  if (state.runnerKeyHash !== Poseidon.hash(runnerKey.toPublicKey().toFields()).toBigInt())
    throw new DeployError(
      'RUNNER_KEY_MISMATCH',
      `the runner key is not service ${opening.service}'s runner`,
    )
  const reveal: SourceReveal = {
    v: 1,
    kind: 'zkrunner/source-reveal',
    commitment: fieldToPrivateCommitment(state.sourceCommitment),
    ...opening,
  }
  const checked = checkSourceReveal(reveal, {
    address: opening.service,
    commitmentField: state.sourceCommitment,
  })
  if (!checked.ok)
    throw new DeployError('WRONG_OPENING', `${checked.error.message}; nothing was published`)
  const bytes = sourceRevealBytes(reveal)
  const cid = CID.createV1(raw.code, createDigest(sha256Hasher.code, sha256(bytes)))
  const file = join(at.keysDir, 'reveals', `${cid}.json`)
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, bytes)
  io.out(`reveal document ${cid} written to ${file}`)
  if (o.ipfsDir !== undefined) {
    // The runner's store serves it through its gateway, as it serves the descriptor.
    const [{ openIpfsNode }, { pinRawBlock }] = await Promise.all([
      import('../agent/ipfs/node.ts'),
      import('../agent/ipfs/pin-raw-block.ts'),
    ])
    const helia = await openIpfsNode({ dataDir: resolve(o.ipfsDir) })
    try {
      await pinRawBlock(helia, cid, bytes)
    } finally {
      await helia.stop()
    }
    io.out(`pinned in ${o.ipfsDir}`)
  }
  await requireFunded(s)
  await compile(s, deployed(at, 'creditToken', 'token'), [ServiceRegistry])
  await send(s, 'listing the reveal in the registry', () =>
    publishService(s.payer, registry, runnerKey, service, unwrap(cidToFields(cid))),
  )
  io.out(`revealed ${opening.service}: ${cid}`)
}

async function statusCommand(at: ResolvedAlias, io: DeployIo) {
  const s = await connect(at, io)
  const payer = s.payer.key.toPublicKey()
  const hasPayer = await accountExists(payer)
  const balance = hasPayer
    ? `${nanominaToMina(Mina.getBalance(payer).toBigInt())} MINA`
    : 'no account'
  io.out(`fee payer ${payer.toBase58()}: ${balance} (fee ${at.alias.fee} MINA)`)
  const line = async (name: string, address: string | undefined, extra = '') => {
    if (!address) return io.out(`${name} not deployed`)
    const onChain = await accountExists(PublicKey.fromBase58(address))
    io.out(`${name} ${address}: ${onChain ? 'on chain' : 'NOT on chain'}${extra}`)
  }
  // A hard fork unfreezes every service's code (the freeze holds for the current transaction
  // version only): say so while users can still withdraw. A node that cannot tell says nothing.
  const upgrade = await readUpgradeNotice(at.alias.url).catch(() => null)
  if (upgrade?.kind === 'announced')
    io.out(
      `network upgrade announced: transactions stop at slot ${upgrade.txEndSlot} (${upgrade.slotsLeft} slots from now); after it, a service's code can be replaced by its key holder, so users should withdraw before then`,
    )
  else if (upgrade?.kind === 'stopped')
    io.out(`network upgrade: transactions stopped at slot ${upgrade.txEndSlot}`)
  await line('creditToken', at.alias.creditToken)
  await line('registry', at.alias.registry)
  const services = Object.entries(at.alias.services ?? {})
  if (services.length === 0) io.out('no services')
  // Each service is judged as the Worker and the page judge it: against the compiled contracts.
  const code =
    services.length > 0 && at.alias.creditToken
      ? await genuineCode(PublicKey.fromBase58(at.alias.creditToken))
      : null
  for (const [cid, address] of services) {
    const pk = PublicKey.fromBase58(address)
    let verdict = ''
    let ledger = ''
    if (code && (await accountExists(pk))) {
      const accounts = await readServiceAccounts(pk, at.alias.url)
      ledger = accounts.ledgerAddress ?? ''
      const v = checkGenuineService(accounts, code)
      verdict = v.genuine ? ', genuine and frozen' : `, UNSAFE (${v.code}): ${v.reason}`
      // Then, as every reader: does its ledger's money add up (state rebuilt, escrow covering it)?
      if (v.genuine && ledger) {
        const solvency = await readSolvency(ledger, {
          graphql: at.alias.url,
          archive: at.alias.archive,
        }).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))
        verdict +=
          solvency instanceof Error
            ? `, solvency unreadable: ${solvency.message}`
            : solvency.solvent
              ? `, solvent (escrow ${solvency.escrow}, owes ${solvency.owed})`
              : `, UNSAFE (${solvency.code}): ${solvency.reason}`
      }
    }
    await line(
      'service',
      address,
      ` (descriptor ${cid}${ledger ? `, ledger ${ledger}` : ''})${verdict}`,
    )
  }
}

async function keygenCommand(at: ResolvedAlias, io: DeployIo) {
  const path = at.feePayerKeyPath
  let key: Awaited<ReturnType<typeof readKeyFile>>
  try {
    key = await readKeyFile(path, 'fee payer')
    io.out(`fee payer key exists: ${path}`)
  } catch (e) {
    if (!(e instanceof DeployError) || e.code !== 'KEY_NOT_FOUND') throw e
    key = PrivateKey.random()
    await writeKeyFile(path, key)
    io.out(`fee payer key written: ${path}`)
  }
  const pk = key.toPublicKey().toBase58()
  io.out(`fee payer ${pk}`)
  io.out(fundingHint(at, pk))
}

async function fundCommand(at: ResolvedAlias, io: DeployIo, address: string, mina: string) {
  const to = PublicKey.fromBase58(flag('<address>', publicKeyArg, address))
  const amount = minaToNanomina(flag('<MINA>', MinaAmountSchema, mina))
  if (amount === 0n) throw new DeployError('USAGE', '<MINA>: must be more than 0')
  if (!isLoopback(at.alias.url)) {
    throw new DeployError(
      'NOT_LOCAL',
      `fund sends from a local chain's dev accounts; ${at.name} is ${at.alias.url}: ${fundingHint(at, to.toBase58())}`,
    )
  }
  const s = await connect(at, io)
  const accountManagerUrl =
    at.alias.accountManager ?? new URL('/account-manager', at.alias.url).toString()
  io.out(`funding ${to.toBase58()} with ${nanominaToMina(amount)} MINA from a dev account…`)
  let sent: { hash: string; from: string }
  try {
    sent = await fundFromDevAccount({
      accountManagerUrl,
      to,
      nanomina: amount,
      fee: at.feeNanomina,
      poll: s.poll,
    })
  } catch (e) {
    throw new DeployError('TRANSACTION', `funding ${to.toBase58()}: ${(e as Error).message}`)
  }
  io.out(`sent ${sent.hash} from ${sent.from}, included`)
  await accountExists(to) // refetches: the cached account predates the payment
  io.out(`balance of ${to.toBase58()}: ${nanominaToMina(Mina.getBalance(to).toBigInt())} MINA`)
}

/** One line, however long or multi-line the message. */
const oneLine = (s: string) => {
  const flat = s.replace(/\s+/g, ' ').trim()
  return flat.length > 600 ? `${flat.slice(0, 597)}…` : flat
}

/** Splits `<alias>` off the arguments; the rest goes to commander. */
function splitAlias(argv: string[]): { alias?: string; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (a === '--config') {
      i++
      continue
    }
    if (a.startsWith('-')) continue
    return { alias: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] }
  }
  return { rest: argv }
}

function program(alias: string, io: DeployIo): Command {
  const root = new Command()
    .name(`npm run deploy -- ${alias}`)
    .usage('<command> [options]')
    .description(
      'Deploys the zkrunner contracts to the network of a deploy.json alias and writes their addresses back.',
    )
    .option('--config <path>', 'the deploy aliases file', 'deploy.json')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      outputError: () => {},
    })
  const load = (cmd: Command) =>
    loadAlias(resolve((cmd.optsWithGlobals() as { config: string }).config), alias)

  root
    .command('token')
    .description('deploy the credit token and its CreditAdmin; records creditToken')
    .option('--symbol <symbol>', 'token symbol', 'CRED')
    .option('--decimals <n>', 'token decimals', '0')
    .option('--admin-key <path>', 'key file of the mint admin (default: generated in the key dir)')
    .option('--src <url>', "the token's zkappUri", DEFAULT_SRC)
    .action(async (o, cmd: Command) => tokenCommand(await load(cmd), io, o))
  root
    .command('mint')
    .description('mint credits to an address (the admin key signs)')
    .requiredOption('--to <address>', 'recipient (B62…)')
    .requiredOption('--amount <n>', 'credits, in token base units')
    .option('--admin-key <path>', 'key file of the mint admin (default: the key dir)')
    .action(async (o, cmd: Command) => mintCommand(await load(cmd), io, o))
  root
    .command('registry')
    .description('deploy the ServiceRegistry; records registry')
    .action(async (_o, cmd: Command) => registryCommand(await load(cmd), io))
  root
    .command('service')
    .description(
      'deploy one frozen service version for a ServiceDescriptor and publish it in the registry (a private descriptor: its poseidon: commitment is frozen, no coordinate is printed)',
    )
    .requiredOption('--descriptor <path>', 'the ServiceDescriptor JSON file')
    .option(
      '--descriptor-cid <cid>',
      'optional check: refused unless it is the CID the command computes for the descriptor',
    )
    .requiredOption(
      '--runner-key <path>',
      "key file of the runner (the descriptor's runnerPublicKey); signs the registry entry",
    )
    .requiredOption(
      '--timelock-slots <n>',
      'slots a user waits before withdrawing an unspent deposit',
    )
    .action(async (o, cmd: Command) => serviceCommand(await load(cmd), io, o))
  root
    .command('reveal')
    .description(
      "publish a private service's opening (repository, commit, salt): checked against its frozen commitment, pinned, listed in the registry",
    )
    .requiredOption(
      '--opening <path>',
      'JSON: service, provider, providerUrl, project, ref, job, workflow (GitHub), commit, salt',
    )
    .requiredOption('--runner-key <path>', "key file of the service's runner; signs the listing")
    .option('--ipfs-dir <dir>', "the runner agent's data directory: pin the reveal in its store")
    .addHelpText(
      'after',
      [
        '',
        'The opening is the one the service was offered with (README: "Private services"):',
        `  { "service": "B62…", "provider": "gitlab", "providerUrl": "https://gitlab.com", "project": "acme/private",`,
        `    "ref": "main", "job": "test", "commit": "<40 hex>", "salt": "<62 hex>" }`,
        'An opening that does not open the commitment frozen in the service contract is refused',
        '(WRONG_OPENING) and nothing is published. Example:',
        `  npm run deploy -- ${alias} reveal --opening opening.json \\`,
        '    --runner-key ~/.local/share/zkrunner-agent/runner-key.json --ipfs-dir ~/.local/share/zkrunner-agent',
      ].join('\n'),
    )
    .action(async (o, cmd: Command) => revealCommand(await load(cmd), io, o))
  root
    .command('status')
    .description("the alias's network, fee payer balance and deployed addresses")
    .action(async (_o, cmd: Command) => statusCommand(await load(cmd), io))
  root
    .command('fund')
    .description("local chains only: send MINA to any key from the chain's dev accounts")
    .argument('<address>', 'the key to fund (B62…)')
    .argument('<MINA>', 'how much, e.g. 10 or 0.5')
    .action(async (address: string, mina: string, _o, cmd: Command) =>
      fundCommand(await load(cmd), io, address, mina),
    )
  root
    .command('keygen')
    .description('write a new fee payer key file if there is none, and print where to fund it')
    .action(async (_o, cmd: Command) => keygenCommand(await load(cmd), io))
  return root
}

/** Runs the deploy command on `argv` (the arguments after the script); returns the exit code. */
export async function main(argv: string[], io: DeployIo = stdio): Promise<number> {
  useNativeBackend()
  const { alias, rest } = splitAlias(argv)
  const cli = program(alias ?? '<alias>', io)
  const wantsHelp = rest.includes('--help') || rest.includes('-h')
  try {
    if (!alias) {
      if (wantsHelp) {
        io.out(cli.helpInformation().trimEnd())
        return 0
      }
      throw new DeployError('USAGE', 'missing <alias> (see --help)')
    }
    if (!rest.some((a) => !a.startsWith('-')) && !wantsHelp) {
      throw new DeployError('USAGE', `missing <command> after ${alias} (see --help)`)
    }
    await cli.parseAsync(rest, { from: 'user' })
    return 0
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.exitCode === 0) return 0
      io.err(`deploy: USAGE: ${oneLine(e.message.replace(/^error: /, ''))}`)
      return 2
    }
    if (e instanceof DeployError) {
      io.err(`deploy: ${e.code}: ${oneLine(e.message)}`)
      return 1
    }
    if (e instanceof ProtocolError) {
      io.err(`deploy: ${e.code}: ${oneLine(e.message)}`)
      return 1
    }
    io.err(`deploy: FAILED: ${oneLine((e as Error).message ?? String(e))}`)
    return 1
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2))
}

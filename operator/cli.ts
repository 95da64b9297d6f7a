import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { PublicKey } from 'o1js'
import { z } from 'zod'
import { openIpfsNode } from '../agent/ipfs/node.ts'
import { pinServiceDescriptor } from '../agent/ipfs/pin-descriptor.ts'
import { type DeployIo, main as deploy, readDescriptor } from '../contracts/deploy-cli.ts'
import { DeployError, loadAlias, type ResolvedAlias } from '../contracts/deploy-config.ts'
import {
  accountExists,
  ensureCompiledAll,
  isRetiredInRegistry,
  retireService,
  selectNetwork,
  sendHeartbeat,
} from '../contracts/index.ts'
import { readKeyFile } from '../contracts/key-file.ts'
import { PrivateCoordinatesSchema, serviceDescriptorCid } from '../protocol/index.ts'
import { offer } from './offer.ts'
import {
  type ProviderCredentials,
  registerWithWorker,
  retireWithWorker,
  workerServiceStatus,
} from './register.ts'
import { retire } from './retire.ts'

// `npm run operator -- <alias> offer service.json …`: one command from a descriptor file to a
// live, listed service. It lives apart from the deploy command because it composes three parts
// the contracts must not import: the runner's IPFS store (agent), the chain (contracts, through
// the deploy command itself) and the Worker's API.

const stdio: DeployIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

const CredentialsSchema = z.strictObject({
  triggerToken: z.string().min(1).max(512),
  apiToken: z.string().min(1).max(512).optional(),
  // Without it the Worker accepts no webhook for the service: its jobs never leave `triggered`.
  webhookSecret: z.string().min(16).max(256),
  // A private service's coordinates and the opening of its commitment (README: private services).
  coordinates: PrivateCoordinatesSchema.optional(),
})

/** What `offer` needs beyond the alias. */
export interface OfferOptions {
  config: string
  runnerKey: string
  credentials: string
  worker: string
  ipfsDir: string
  timelockSlots: string
  page?: string
}

async function readCredentials(path: string): Promise<ProviderCredentials> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (e) {
    throw new DeployError('USAGE', `--credentials ${path}: ${(e as Error).message}`)
  }
  const r = CredentialsSchema.safeParse(json)
  if (!r.success) {
    throw new DeployError(
      'USAGE',
      `--credentials ${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )
  }
  return r.data
}

const poll = (at: ResolvedAlias) =>
  /^https?:\/\/(127\.|localhost|\[::1\])/.test(at.alias.url)
    ? { interval: 1000, maxAttempts: 300 }
    : { interval: 20_000, maxAttempts: 60 }

/** Runs `offer` for the descriptor at `path` on `alias`. */
export async function offerCommand(
  alias: string,
  path: string,
  o: OfferOptions,
  io: DeployIo,
  fetchFn: typeof fetch = fetch,
): Promise<void> {
  const configPath = resolve(o.config)
  const descriptorPath = resolve(path)
  // Everything that can be checked without the network is checked first.
  const descriptor = await readDescriptor(descriptorPath)
  const credentials = await readCredentials(resolve(o.credentials))
  const runnerKey = await readKeyFile(resolve(o.runnerKey), 'runner')
  if (runnerKey.toPublicKey().toBase58() !== descriptor.runnerPublicKey) {
    throw new DeployError(
      'RUNNER_KEY_MISMATCH',
      `runner key ${runnerKey.toPublicKey().toBase58()} is not the descriptor's runnerPublicKey ${descriptor.runnerPublicKey}`,
    )
  }
  let at = await loadAlias(configPath, alias)
  selectNetwork(at.alias.url, at.alias.archive, at.alias.networkId, { prove: at.alias.prove })
  const payer = { key: await readKeyFile(at.feePayerKeyPath, 'fee payer'), fee: at.feeNanomina }
  let compiled = false
  const ensureCompiled = async () => {
    if (compiled) return
    const token = at.alias.creditToken
    if (!token) throw new DeployError('NOT_DEPLOYED', `alias ${alias} has no creditToken`)
    io.out('compiling (cached keys)…')
    await ensureCompiledAll(PublicKey.fromBase58(token))
    compiled = true
  }
  const outcome = await offer(
    {
      async pin() {
        const helia = await openIpfsNode({ dataDir: resolve(o.ipfsDir) })
        try {
          return await pinServiceDescriptor(helia, descriptor)
        } finally {
          await helia.stop()
        }
      },
      async deployed(cid) {
        at = await loadAlias(configPath, alias)
        const address = at.alias.services?.[cid]
        return address && (await accountExists(PublicKey.fromBase58(address))) ? address : undefined
      },
      async deploy(cid) {
        const code = await deploy(
          [
            alias,
            'service',
            '--descriptor',
            descriptorPath,
            '--descriptor-cid',
            cid,
            '--runner-key',
            resolve(o.runnerKey),
            '--timelock-slots',
            o.timelockSlots,
            '--config',
            configPath,
          ],
          io,
        )
        if (code !== 0) throw new DeployError('TRANSACTION', 'deploying the service failed (above)')
        compiled = true
        at = await loadAlias(configPath, alias)
        const address = at.alias.services?.[cid]
        if (!address) throw new DeployError('NOT_DEPLOYED', `no service recorded for ${cid}`)
        return address
      },
      async heartbeat(service) {
        await ensureCompiled()
        await sendHeartbeat(payer, PublicKey.fromBase58(service), runnerKey, io.out, poll(at))
      },
      async registered(service, cid) {
        const s = await workerServiceStatus(o.worker, service, fetchFn)
        if (s.retired) {
          throw new DeployError(
            'RETIRED',
            `service ${service} is retired at the Worker: offer a new version (a new commit or descriptor)`,
          )
        }
        return s.registered && s.descriptorCid === cid
      },
      async register(service, cid) {
        await registerWithWorker(
          {
            workerUrl: o.worker,
            service,
            descriptor,
            descriptorCid: cid,
            credentials,
            runnerPrivateKey: runnerKey.toBase58(),
          },
          fetchFn,
        )
      },
    },
    io.out,
  )
  if (outcome.cid !== serviceDescriptorCid(descriptor).toString()) {
    throw new DeployError('DESCRIPTOR_CID_MISMATCH', 'the pinned CID is not the descriptor CID')
  }
  io.out(`offered: ${descriptor.name} (${outcome.performed.join(', ')})`)
  io.out(`service ${outcome.service}, descriptor ${outcome.cid}`)
  io.out(
    `keep it live: run \`zkrunner-agent heartbeat --service ${outcome.service}\` (or with --registry) as a service; a version goes stale once its heartbeat is older than the Worker's HEARTBEAT_MAX_AGE_SLOTS`,
  )
  if (o.page) io.out(`page: ${o.page} (listed under ${outcome.service})`)
}

/** What `retire` needs beyond the alias and the service. */
export interface RetireOptions {
  config: string
  runnerKey: string
  worker: string
}

/** Runs `retire` for the service version at `service` on `alias`. */
export async function retireCommand(
  alias: string,
  service: string,
  o: RetireOptions,
  io: DeployIo,
  fetchFn: typeof fetch = fetch,
): Promise<void> {
  let servicePk: PublicKey
  try {
    servicePk = PublicKey.fromBase58(service)
  } catch {
    throw new DeployError('USAGE', `${service} is not a Mina address`)
  }
  const runnerKey = await readKeyFile(resolve(o.runnerKey), 'runner')
  const at = await loadAlias(resolve(o.config), alias)
  selectNetwork(at.alias.url, at.alias.archive, at.alias.networkId, { prove: at.alias.prove })
  const registryAddress = at.alias.registry
  if (!registryAddress) throw new DeployError('NOT_DEPLOYED', `alias ${alias} has no registry`)
  const registry = PublicKey.fromBase58(registryAddress)
  const payer = { key: await readKeyFile(at.feePayerKeyPath, 'fee payer'), fee: at.feeNanomina }
  const outcome = await retire(
    service,
    {
      async retiredAtWorker(s) {
        return (await workerServiceStatus(o.worker, s, fetchFn)).retired === true
      },
      async retireAtWorker(s) {
        await retireWithWorker(o.worker, s, runnerKey.toBase58(), fetchFn)
      },
      async retiredInRegistry() {
        // Without an archive the listing cannot be read: sending the retirement again is harmless.
        if (!at.alias.archive) return false
        return isRetiredInRegistry(registry, servicePk, runnerKey.toPublicKey())
      },
      async retireInRegistry() {
        const token = at.alias.creditToken
        if (!token) throw new DeployError('NOT_DEPLOYED', `alias ${alias} has no creditToken`)
        io.out('compiling (cached keys)…')
        await ensureCompiledAll(PublicKey.fromBase58(token))
        const tx = await retireService(payer, registry, runnerKey, servicePk)
        io.out(`registry retire sent: ${tx.hash}`)
        await tx.wait()
      },
    },
    io.out,
  )
  io.out(`retired: ${service} (${outcome.performed.join(', ') || 'nothing left to do'})`)
}

function program(io: DeployIo, fetchFn: typeof fetch): Command {
  const root = new Command()
    .name('npm run operator --')
    .description('Offers a service version in one command.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      outputError: () => {},
    })
  root
    .command('offer')
    .argument('<alias>', 'the deploy.json alias (network, fee payer, credit token, registry)')
    .argument('<descriptor>', 'the ServiceDescriptor JSON file')
    .description(
      'validate, pin, deploy and freeze, publish, heartbeat and register with the Worker; re-run to resume',
    )
    .option('--config <path>', 'the deploy aliases file', 'deploy.json')
    .requiredOption('--runner-key <path>', "key file of the descriptor's runnerPublicKey")
    .requiredOption(
      '--credentials <path>',
      'JSON { "triggerToken", "apiToken"?, "webhookSecret", "coordinates"? } sealed to the Worker. GitLab: triggerToken is the pipeline trigger token, apiToken a read_api token. GitHub: triggerToken is the fine-grained token of the one repository with Actions: read and write; webhookSecret is the HMAC secret of the repository webhook (workflow_run, workflow_job)',
    )
    .requiredOption('--worker <url>', 'the Worker')
    .requiredOption('--ipfs-dir <dir>', "the runner agent's data directory (its IPFS store)")
    .option('--timelock-slots <n>', 'slots a user waits before withdrawing', '100')
    .option('--page <url>', 'the page that lists the service, printed at the end')
    .action(async (alias: string, path: string, o: OfferOptions) =>
      offerCommand(alias, path, o, io, fetchFn),
    )
  root
    .command('retire')
    .argument('<alias>', 'the deploy.json alias (network, fee payer, registry)')
    .argument('<service>', 'the service version (contract address) to retire')
    .description(
      'stop the Worker admitting jobs for the version and withdraw it from the registry; re-run to resume',
    )
    .option('--config <path>', 'the deploy aliases file', 'deploy.json')
    .requiredOption('--runner-key <path>', "key file of the version's runnerPublicKey")
    .requiredOption('--worker <url>', 'the Worker')
    .action(async (alias: string, service: string, o: RetireOptions) =>
      retireCommand(alias, service, o, io, fetchFn),
    )
  return root
}

/** Runs the operator command on `argv`; returns the exit code. */
export async function main(
  argv: string[],
  io: DeployIo = stdio,
  fetchFn: typeof fetch = fetch,
): Promise<number> {
  try {
    await program(io, fetchFn).parseAsync(argv, { from: 'user' })
    return 0
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0
      io.err(`operator: USAGE: ${e.message.replace(/^error: /, '')}`)
      return 2
    }
    const code = (e as { code?: unknown }).code
    io.err(
      `operator: ${typeof code === 'string' ? code : 'FAILED'}: ${String((e as Error).message).replace(/\s+/g, ' ')}`,
    )
    return 1
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2))
}

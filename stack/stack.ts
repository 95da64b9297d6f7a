import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Lightnet, PrivateKey, setBackend } from 'o1js'
import { heartbeatWorldOnActiveChain } from '../agent/heartbeat/chain-world.ts'
import { runHeartbeatDuty } from '../agent/heartbeat/duty.ts'
import { type FeePayer, readUserChannel } from '../contracts/index.ts'
import {
  type GithubStandin,
  parseWorkflow,
  runAsSelfHostedRunner,
  startGithubStandin,
} from '../github-standin/index.ts'
import { startGitlabStandin } from '../gitlab-standin/index.ts'
import type { GitlabStandin } from '../gitlab-standin/types.ts'
import { registerWithWorker } from '../operator/register.ts'
import {
  hpkeKeyPairOf,
  type PrivateCoordinates,
  type RequestBinding,
  type ServiceDescriptor,
  signStatusQuery,
  statusQueryExpiry,
  statusQueryString,
  unwrap,
} from '../protocol/index.ts'
import type { VerificationLink } from '../verify/index.ts'
import { ensureAgentBuilt } from './agent-build.ts'
import type { StackConfig } from './config.ts'
import {
  type Deployment,
  ensureDeployed,
  ensureService,
  selectNetwork,
  sendHeartbeat,
} from './deploy.ts'
import { githubRunnerDirs, startGithubRunner } from './github-runner.ts'
import { JobLedger } from './job-ledger.ts'
import { oneJobAtATime, stackJobUser } from './job-user.ts'
import { agentCommand, runWithExecutor } from './local-runner.ts'
import { startPageServer } from './page-server.ts'
import { PRIVATE_PROJECT, privateSample, privateSampleCommit } from './private-sample.ts'
import { publishDescriptor } from './publish.ts'
import {
  ensureDeposit,
  pk,
  requestJob,
  requestSponsoredJob,
  verifyJob,
  watchJob,
} from './sample-job.ts'
import {
  readCiJob,
  SAMPLE_OUTPUTS,
  SAMPLE_PARAMETERS,
  SAMPLE_PROJECT_DIR,
  sourceCommitment,
} from './sample-project.ts'
import { sampleRepository } from './sample-repository.ts'
import { loadOrCreateSecrets } from './secrets.ts'
import {
  ensureSponsorPool,
  SPONSORED_PROJECT,
  type SponsorPoolSetup,
  sponsoredSample,
} from './sponsored-sample.ts'
import { type Supervised, Supervisor } from './supervisor.ts'

const PRICE_PER_JOB = 10n
/** The withdrawal timelock of every stack service version (slots; the e2e waits it out). */
export const WITHDRAW_TIMELOCK_SLOTS = 100
const CREDITS_PER_USER = 1_000_000n
// The heartbeat duty renews the runner heartbeat at half this age (slots), so the service stays enabled.
const HEARTBEAT_MAX_AGE_SLOTS = 1200
/** The local Worker's wait after a provider-quota refusal before a job probes the provider again. */
const QUOTA_PROBE_SECONDS = 10
/**
 * The local Worker's result deadline: a job with no runner report 15 min + 5 min after admission is
 * not charged (no-result). Short, so a job lost in the stack releases its user's funds while one
 * watches; long enough for a sample job and an agent restart on a loaded machine.
 */
const MAX_JOB_SECONDS = 900
const RESULT_GRACE_SECONDS = 300
const NETWORK_ID = 'devnet'
const SAMPLE_PROJECT_ID = 1
/** The sample's repository on the GitHub stand-in, and its workflow file. */
const GITHUB_OWNER = 'zkrunner'
const GITHUB_REPO = 'sample-primes'
const GITHUB_WORKFLOW = 'zkrunner.yml'
/** The stand-in's one self-hosted runner, as GitHub names it: the signer binds jobs to it. */
const GITHUB_RUNNER_NAME = 'zkrunner-standin'
const GITHUB_RUNNER_ID = '1'

/** URLs of every part of a running local stack. */
export interface StackUrls {
  minaGraphql: string
  archive: string
  accountManager: string
  worker: string
  gitlab: string
  github: string
  gateway: string
  page: string
}

/** Keys a developer needs to use the local stack by hand. */
export interface StackKeys {
  user: { publicKey: string; privateKey: string }
  /** The page's dev wallet (its own deposit, so the page can request jobs at once). */
  pageUser: { publicKey: string; privateKey: string }
  runner: { publicKey: string; privateKey: string }
  deployer: { publicKey: string; privateKey: string }
  /** The sponsor whose pool pays the sponsored service's jobs (its channel in that ledger). */
  sponsor: { publicKey: string; privateKey: string }
}

/** The outcome of one end-to-end sample job. */
export interface SampleRun extends StackJob {
  links: VerificationLink[]
  /** True when every verification link holds (and for a sponsored job, the pool paid, not the user). */
  verified: boolean
  /**
   * A sponsored job's payment across its settlement: whether its user's channel in the service's
   * ledger moved (it must not: the user pays nothing) and what the pool's channel paid.
   */
  payment?: { userChannelMoved: boolean; poolPaid: bigint }
}

/** The CI providers the stack offers the sample on: one service version each. */
export type StackProvider = ServiceDescriptor['provider']

/** One service version of the stack: its contract and its descriptor. */
export interface StackService {
  provider: StackProvider
  service: string
  descriptor: ServiceDescriptor
  descriptorCid: string
}

/** A job run through the stack, as the user saw it. */
export interface StackJob {
  provider: StackProvider
  /** The service contract the job was bought from. */
  service: string
  jobId: string
  user: string
  /** The request as the user sent it: its result must answer exactly it. */
  request: RequestBinding
  status: string
  bundleCid: string | null
  /** The sponsor whose pool paid, for a sponsored job (its settled leaf is in the pool's channel). */
  payer?: string
}

/** Faults the end-to-end tests inject; each is consumed by the next job. */
export interface StackFaults {
  /** Hold the next job before its last step, SIGKILL its runner agent there, then `resume` it. */
  killAgentMidJob?: boolean
}

/** A running local stack. */
export interface LocalStack {
  urls: StackUrls
  keys: StackKeys
  /** Whether the chain verifies proofs, and so whether the stack and its agent prove. */
  proofs: boolean
  /** The contracts; `service` is the GitLab service version. */
  deployment: Deployment
  /** The GitLab service's descriptor. */
  descriptor: ServiceDescriptor
  /** Both service versions of the sample, by provider. */
  services: Record<StackProvider, StackService>
  /**
   * The sample as a private service (GitLab): no coordinates in its descriptor, a hiding source
   * commitment; `coordinates` are what its operator sealed to the Worker and may reveal later.
   */
  privateService: StackService & { coordinates: PrivateCoordinates }
  /**
   * The sample as a sponsored service (GitLab): its jobs are paid from the sponsor's pool, which
   * the stack funds for SPONSORED_POOL_JOBS jobs at start and offers the Worker a grant for.
   */
  sponsoredService: StackService & { sponsor: string; pool: SponsorPoolSetup }
  /** Whether GitHub jobs run as the job user through the signer (as root, with a readable checkout). */
  githubJobsThroughSigner: boolean
  gitlab: GitlabStandin
  github: GithubStandin
  faults: StackFaults
  /**
   * Deposits if needed, requests one job as the page would, and waits until its result is
   * reported: from the `provider`'s sample service (GitLab by default), or from `target`
   * (another version the runner offered).
   */
  requestJob(
    limit: number,
    onLine?: (line: string) => void,
    target?: StackProvider | { service: string; descriptor: ServiceDescriptor },
  ): Promise<StackJob>
  /**
   * Requests one job on the sponsored service's pool as the page's "Pay with" does (the user signs
   * only the request; no deposit, no voucher) and waits until its result is reported. `userKey`
   * defaults to a fresh key that holds nothing.
   */
  requestSponsoredJob(
    limit: number,
    onLine?: (line: string) => void,
    userKey?: PrivateKey,
  ): Promise<StackJob>
  /** The runner settles every reported job on chain (`zkrunner-agent settle`). */
  settle(onLine?: (line: string) => void): Promise<void>
  /** Verifies a job from the gateway and the chain alone, as anyone can. */
  verify(job: StackJob, onLine?: (line: string) => void): Promise<VerificationLink[]>
  /** Stops and starts the runner agent (its IPFS gateway and its heartbeat duty). */
  restartGateway(): Promise<void>
  /** Runs one paid job end to end on `provider`'s service: deposit, request, run, report, settle, verify. */
  runSampleJob(
    limit: number,
    onLine?: (line: string) => void,
    provider?: StackProvider,
  ): Promise<SampleRun>
  /**
   * Runs one paid job on each of `providers`, then one settlement for all, then verifies each.
   * `lineFor(provider)` names where a provider's lines go; `lineFor()` the settlement's.
   */
  runSampleJobs(
    limit: number,
    providers: readonly StackProvider[],
    lineFor?: (provider?: StackProvider | 'sponsored') => (line: string) => void,
    options?: { sponsored?: boolean },
  ): Promise<SampleRun[]>
  /**
   * Stops the runner agent: its gateway and, with it, the heartbeat duty it runs (SIGTERM, or
   * SIGKILL with `kill`). Resolves once no heartbeat round is in flight any more.
   */
  stopAgent(options?: { kill?: boolean }): Promise<void>
  /** Starts the runner agent again (a no-op while it runs); its heartbeat duty resumes. */
  startAgent(): Promise<void>
  /** Moves the local chain `slots` slots ahead (heartbeats age by as much). */
  advanceSlots(slots: number): Promise<void>
  /** The runner agent's data directory (its IPFS store and `runner-key.json`). */
  agentDataDir: string
  /** Stops every process the stack started; chain, IPFS and Worker state stay in the data dir. */
  stop(): Promise<void>
}

const mina = (k: PrivateKey) => ({
  publicKey: k.toPublicKey().toBase58(),
  privateKey: k.toBase58(),
})

/** Whether the stack's own chain node verifies proofs (its `/local/status`; a failure is an error). */
async function chainVerifiesProofs(chainBase: string): Promise<boolean> {
  const res = await fetch(`${chainBase}/local/status`)
  const status = (await res.json()) as { proofsEnabled?: unknown }
  if (!res.ok || typeof status.proofsEnabled !== 'boolean')
    throw new Error(
      `the local chain's status (${res.status}) does not say whether it verifies proofs`,
    )
  return status.proofsEnabled
}

/**
 * Brings up the whole product on loopback: the local Mina node, contracts deployed, the runner's
 * IPFS gateway, the GitLab stand-in whose jobs run through the agent as a custom executor, the
 * GitHub stand-in whose workflow runs as a self-hosted runner with the agent in its job hooks and
 * as its steps' shell, the Worker in workerd, and the page. The sample is offered twice, one
 * service version per provider. On failure everything started so far is stopped.
 */
export async function startStack(
  config: StackConfig,
  log: (line: string) => void,
): Promise<LocalStack> {
  setBackend('native')
  const sup = new Supervisor()
  const standins: Array<{ close(): Promise<void> }> = []
  const closers: Array<() => Promise<void>> = []
  const stop = async () => {
    for (const close of closers.reverse()) await close().catch(() => {})
    for (const s of standins) await s.close().catch(() => {})
    await sup.stopAll()
  }
  try {
    return await bringUp(config, log, sup, standins, closers, stop)
  } catch (e) {
    await stop()
    throw e
  }
}

async function bringUp(
  config: StackConfig,
  log: (line: string) => void,
  sup: Supervisor,
  standins: Array<{ close(): Promise<void> }>,
  closers: Array<() => Promise<void>>,
  stop: () => Promise<void>,
): Promise<LocalStack> {
  const dataDir = config.dataDir
  const agentDataDir = join(dataDir, 'agent')
  // Beside the stack's data dir, not in it (the Worker's secrets are there): the job user reaches
  // its builds and nothing else. Made first, so that a fresh `.zkrunner` is traversable.
  const buildsDir = `${dataDir.replace(/\/+$/, '')}-builds`
  await mkdir(buildsDir, { recursive: true, mode: 0o755 })
  await mkdir(agentDataDir, { recursive: true, mode: 0o700 })
  const secrets = await loadOrCreateSecrets(join(dataDir, 'secrets.json'))
  const hpke = unwrap(hpkeKeyPairOf(secrets.hpkePrivateKey))
  const node = process.execPath
  const repo = new URL('../', import.meta.url).pathname
  const swc = ['--import', join(repo, 'scripts/swc-register.mjs')]
  const host = '127.0.0.1'
  const base = (port: number) => `http://${host}:${port}`
  const chainBase = base(config.chainPort)
  const urls: StackUrls = {
    minaGraphql: `${chainBase}/graphql`,
    archive: `${chainBase}/archive`,
    accountManager: `${chainBase}/account-manager`,
    worker: base(config.workerPort),
    gitlab: base(config.gitlabPort),
    github: base(config.githubPort),
    gateway: base(config.gatewayPort),
    page: base(config.pagePort),
  }
  const prefixed = (name: string) => (line: string) => log(`[${name}] ${line}`)

  log('starting the local Mina node…')
  await sup.start({
    name: 'chain',
    command: node,
    args: [
      ...swc,
      join(repo, 'chain/cli.ts'),
      '--port',
      String(config.chainPort),
      '--host',
      host,
      '--state-file',
      join(dataDir, 'chain-state.json'),
      '--block-interval',
      String(config.blockIntervalMs),
    ],
    readyUrl: `${chainBase}/local/status`,
    readyTimeoutMs: 120_000,
    onLine: prefixed('chain'),
  })
  // Transactions are proved only when the node verifies proofs (`ZKRUNNER_CHAIN_PROOFS=true`):
  // against one that does not, a proof costs minutes and proves nothing to anyone (the page then
  // sends dummy proofs too; the contracts' tests prove every method).
  const prove = await chainVerifiesProofs(chainBase)
  if (!prove)
    log(
      'the local chain does not verify proofs: the stack and its agent send dummy proofs (ZKRUNNER_CHAIN_PROOFS=true proves every transaction)',
    )

  // Dev accounts come from the node's Lightnet-compatible account manager, as on Lightnet.
  const acquire = async () =>
    Lightnet.acquireKeyPair({
      isRegularAccount: true,
      lightnetAccountManagerEndpoint: urls.accountManager,
    })
  const deployerKey = (await acquire()).privateKey
  const userKey = (await acquire()).privateKey
  const runnerKey = (await acquire()).privateKey
  // The page's wallet is a user of its own, so the page's jobs and those run from here (which go
  // to `userKey`) sit in separate results trees.
  const pageUserKey = (await acquire()).privateKey
  // The sponsor of the sponsored service: a dev account whose credits fund its pool.
  const sponsorKey = (await acquire()).privateKey
  const payer: FeePayer = { key: deployerKey }

  const commitment = await sourceCommitment(SAMPLE_PROJECT_DIR)
  const ci = await readCiJob(SAMPLE_PROJECT_DIR, 'test')
  const descriptor: ServiceDescriptor = {
    v: 1,
    name: 'Count primes (sample)',
    description: 'Builds a small C program, tests it, then counts the primes up to LIMIT.',
    provider: 'gitlab',
    providerUrl: urls.gitlab,
    project: String(SAMPLE_PROJECT_ID),
    ref: 'main',
    job: ci.name,
    sourceCommitment: commitment,
    pricePerJob: String(PRICE_PER_JOB),
    runnerPublicKey: runnerKey.toPublicKey().toBase58(),
    workerPublicKey: hpke.publicKey,
    parameters: SAMPLE_PARAMETERS,
    outputs: SAMPLE_OUTPUTS,
  }
  const descriptorCid = await publishDescriptor(agentDataDir, descriptor)
  // A different descriptor (source, price, ports) is a new service version: a new contract.
  const serviceKey = await serviceKeyFor(join(dataDir, 'services.json'), descriptorCid)
  // Its ChannelLedger: deposits, channels and settlements (the service names it).
  const ledgerKey = await serviceKeyFor(join(dataDir, 'ledgers.json'), descriptorCid, true)

  // The same job on GitHub Actions: the sample as a repository of its own, its workflow run by the
  // stand-in as a self-hosted runner would. Its source commitment is that repository's commit,
  // which is what a GitHub run names (GITHUB_SHA) and checks out.
  const githubDirs = githubRunnerDirs(dataDir)
  await mkdir(githubDirs.root, { recursive: true, mode: 0o755 })
  const githubSha = await sampleRepository(SAMPLE_PROJECT_DIR, githubDirs.repository)
  const workflow = parseWorkflow(
    await readFile(join(SAMPLE_PROJECT_DIR, '.github/workflows', GITHUB_WORKFLOW), 'utf8'),
  )
  const githubDescriptor: ServiceDescriptor = {
    ...descriptor,
    name: 'Count primes (sample, GitHub Actions)',
    provider: 'github',
    providerUrl: urls.github,
    project: `${GITHUB_OWNER}/${GITHUB_REPO}`,
    workflow: GITHUB_WORKFLOW,
    job: workflow.workflow.jobName,
    sourceCommitment: githubSha,
  }
  const githubDescriptorCid = await publishDescriptor(agentDataDir, githubDescriptor)
  const githubServiceKey = await serviceKeyFor(join(dataDir, 'services.json'), githubDescriptorCid)
  const githubLedgerKey = await serviceKeyFor(
    join(dataDir, 'ledgers.json'),
    githubDescriptorCid,
    true,
  )

  // The same job as a private service: a project and commit of its own on the GitLab stand-in,
  // committed with the stack's secret salt; the coordinates travel only sealed to the Worker.
  const privateCommit = privateSampleCommit(commitment)
  const priv = privateSample(descriptor, { salt: secrets.privateSalt, commit: privateCommit })
  const privateDescriptorCid = await publishDescriptor(agentDataDir, priv.descriptor)
  const privateServiceKey = await serviceKeyFor(
    join(dataDir, 'services.json'),
    privateDescriptorCid,
  )
  const privateLedgerKey = await serviceKeyFor(
    join(dataDir, 'ledgers.json'),
    privateDescriptorCid,
    true,
  )

  // The same job as a sponsored service: a project of its own on the GitLab stand-in (the same
  // source), whose jobs a sponsor's pool pays.
  const sponsoredDescriptor = sponsoredSample(descriptor)
  const sponsoredDescriptorCid = await publishDescriptor(agentDataDir, sponsoredDescriptor)
  const sponsoredServiceKey = await serviceKeyFor(
    join(dataDir, 'services.json'),
    sponsoredDescriptorCid,
  )
  const sponsoredLedgerKey = await serviceKeyFor(
    join(dataDir, 'ledgers.json'),
    sponsoredDescriptorCid,
    true,
  )

  selectNetwork(urls.minaGraphql, urls.archive, NETWORK_ID, { prove })
  const deployInput = {
    payer,
    tokenKey: PrivateKey.fromBase58(secrets.tokenKey),
    tokenAdminContractKey: PrivateKey.fromBase58(secrets.tokenAdminContractKey),
    tokenAdminKey: PrivateKey.fromBase58(secrets.tokenAdminKey),
    registryKey: PrivateKey.fromBase58(secrets.registryKey),
    serviceKey,
    ledgerKey,
    runnerKey,
    users: [userKey.toPublicKey(), pageUserKey.toPublicKey(), sponsorKey.toPublicKey()],
    creditsPerUser: CREDITS_PER_USER,
    pricePerJob: PRICE_PER_JOB,
    withdrawTimelockSlots: WITHDRAW_TIMELOCK_SLOTS,
    sourceCommitment: commitment,
    descriptorCid,
    workerPublicKey: hpke.publicKey,
    log,
  }
  const deployment = await ensureDeployed(deployInput)
  const githubDeployment = await ensureService(deployInput, {
    serviceKey: githubServiceKey,
    ledgerKey: githubLedgerKey,
    sourceCommitment: githubSha,
    descriptorCid: githubDescriptorCid,
    what: 'the GitHub service version',
  })
  const privateDeployment = await ensureService(deployInput, {
    serviceKey: privateServiceKey,
    ledgerKey: privateLedgerKey,
    sourceCommitment: priv.descriptor.sourceCommitment,
    descriptorCid: privateDescriptorCid,
    what: 'the private service version',
  })
  const sponsoredDeployment = await ensureService(deployInput, {
    serviceKey: sponsoredServiceKey,
    ledgerKey: sponsoredLedgerKey,
    sourceCommitment: commitment,
    descriptorCid: sponsoredDescriptorCid,
    what: 'the sponsored service version',
  })
  const privateService = {
    provider: 'gitlab' as const,
    ...privateDeployment,
    descriptor: priv.descriptor,
    descriptorCid: privateDescriptorCid,
    coordinates: priv.coordinates,
  }
  const services: Record<StackProvider, StackService> = {
    gitlab: {
      provider: 'gitlab',
      service: deployment.service,
      descriptor,
      descriptorCid,
    },
    github: {
      provider: 'github',
      ...githubDeployment,
      descriptor: githubDescriptor,
      descriptorCid: githubDescriptorCid,
    },
  }
  // The page's dev wallet gets a deposit up front with each service, so the page can buy a job
  // from any at once: proving a deposit in the browser takes minutes.
  for (const key of [serviceKey, githubServiceKey, privateServiceKey])
    await ensureDeposit(payer, key.toPublicKey(), pageUserKey, 0n, PRICE_PER_JOB, 10n, log)
  log('runner heartbeat…')
  await sendHeartbeat(payer, serviceKey.toPublicKey(), runnerKey, log)
  await sendHeartbeat(payer, githubServiceKey.toPublicKey(), runnerKey, log)
  await sendHeartbeat(payer, privateServiceKey.toPublicKey(), runnerKey, log)
  await sendHeartbeat(payer, sponsoredServiceKey.toPublicKey(), runnerKey, log)

  const agentEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ZKRUNNER_DATA_DIR: agentDataDir,
    ZKRUNNER_WORKER_URL: urls.worker,
    ZKRUNNER_MINA_GRAPHQL_URL: urls.minaGraphql,
    ZKRUNNER_ARCHIVE_URL: urls.archive,
    ZKRUNNER_MINA_NETWORK_ID: NETWORK_ID,
    ZKRUNNER_PROVE: String(prove),
    ZKRUNNER_CREDIT_TOKEN: deployment.token,
    ZKRUNNER_METRICS_LISTEN: '',
    ZKRUNNER_CONFIG: join(dataDir, 'agent.json'),
    ZKRUNNER_BUILDS_DIR: buildsDir,
  }
  // As root (CI), jobs run as an unprivileged user, as the README's runner set-up has it.
  const jobUser = stackJobUser(buildsDir, log)
  if (jobUser) agentEnv.ZKRUNNER_JOB_USER = jobUser.name
  else delete agentEnv.ZKRUNNER_JOB_USER
  // GitLab's and GitHub's jobs share the job user: one at a time (a job user's next job is refused
  // while another job's processes run as it).
  const jobTurn = oneJobAtATime(jobUser, log)
  // The runner's own copy of the private sample's opening: it runs a checkout only when the commit
  // opens the commitment (README: "Private services", step 4).
  const { salt, providerUrl, project } = priv.coordinates
  await writeFile(
    join(dataDir, 'agent.json'),
    `${JSON.stringify({ privateSources: [{ salt, providerUrl, project }] })}\n`,
    { mode: 0o600 },
  )
  // The runner key sits in the agent's key file (0600, outside the builds dir), not in its
  // environment: a job could read the agent's environment from /proc.
  const keyFile = join(agentDataDir, 'runner-key.json')
  await writeFile(
    keyFile,
    `${JSON.stringify({ publicKey: runnerKey.toPublicKey().toBase58(), privateKey: runnerKey.toBase58() })}\n`,
    { mode: 0o600 },
  )
  await chmod(keyFile, 0o600)
  await ensureAgentBuilt(sup, repo, log)
  const agent = agentCommand()

  log('starting the runner IPFS gateway…')
  const startGateway = () =>
    sup.start({
      name: 'gateway',
      command: agent.command,
      args: [...agent.args, 'gateway', '--listen', `${host}:${config.gatewayPort}`],
      env: agentEnv,
      readyUrl: `${urls.gateway}/ipfs/${descriptorCid}`,
      onLine: prefixed('gateway'),
    })
  let gateway: Supervised | undefined = await startGateway()

  let killed = false
  const takeKillFault = () => {
    killed = faults.killAgentMidJob === true
    faults.killAgentMidJob = undefined
    return killed
  }
  const faults: StackFaults = {}
  log('starting the GitLab stand-in…')
  const gitlab = await startGitlabStandin({
    port: config.gitlabPort,
    host,
    webhookUrl: `${urls.worker}/v1/gitlab/webhook`,
    projects: [
      {
        id: SAMPLE_PROJECT_ID,
        path: 'zkrunner/sample-primes',
        // The sample service's own webhook secret, the one sealed in its registration below.
        webhookSecret: secrets.webhookSecret,
        triggerTokens: [secrets.triggerToken],
        accessTokens: [secrets.apiToken],
        sha: commitment,
        jobName: ci.name,
      },
      {
        // The private sample: the same job and tokens, under a project and commit of its own.
        id: PRIVATE_PROJECT.id,
        path: PRIVATE_PROJECT.path,
        webhookSecret: secrets.webhookSecret,
        triggerTokens: [secrets.triggerToken],
        accessTokens: [secrets.apiToken],
        sha: privateCommit,
        jobName: ci.name,
      },
      {
        // The sponsored sample: the public sample's source and tokens, under a project of its own.
        id: SPONSORED_PROJECT.id,
        path: SPONSORED_PROJECT.path,
        webhookSecret: secrets.webhookSecret,
        triggerTokens: [secrets.triggerToken],
        accessTokens: [secrets.apiToken],
        sha: commitment,
        jobName: ci.name,
      },
    ],
    control: true,
    runJob: async ({ project, pipeline, job, variables }) =>
      jobTurn(() =>
        runWithExecutor(
          (spec, options) => sup.exec(spec, options),
          {
            ci,
            projectDir: SAMPLE_PROJECT_DIR,
            projectPath: project.path ?? 'zkrunner/sample-primes',
            jobId: job.id,
            pipelineId: pipeline.id,
            sha: pipeline.sha,
            variables,
          },
          agent,
          agentEnv,
          buildsDir,
          prefixed('job'),
          takeKillFault(),
          jobUser,
        ).then(async (outcome) => {
          // After a crash the operator's `zkrunner-agent resume` (at boot) finishes what the agent left.
          if (killed) await runAgent(sup, agent, ['resume'], agentEnv, prefixed('job'))
          killed = false
          return outcome
        }),
      ),
  })
  standins.push(gitlab)

  log('starting the GitHub stand-in…')
  // The self-hosted runner, as agent/README.md installs it: `zkrunner-agent` on its PATH (the
  // workflow's shell names it) and in both job hooks; as root, the runner runs as the job user and
  // its hooks and steps go through the signer, which holds the key.
  const githubRunner = await startGithubRunner({
    sup,
    agent,
    agentEnv,
    dirs: githubDirs,
    jobUser,
    apiUrl: `${urls.github}/api/v3`,
    readToken: secrets.githubReadToken,
    runnerName: GITHUB_RUNNER_NAME,
    runnerId: GITHUB_RUNNER_ID,
    servedProject: `${GITHUB_OWNER}/${GITHUB_REPO}`,
    log,
  })
  const github = await startGithubStandin({
    port: config.githubPort,
    host,
    webhookUrl: `${urls.worker}/v1/github/webhook`,
    repos: [
      {
        owner: GITHUB_OWNER,
        name: GITHUB_REPO,
        // The Worker's token (Actions: write) and the signer's (read).
        tokens: [secrets.githubToken, secrets.githubReadToken],
        sha: githubSha,
        // The GitHub service's own secret, sealed in its registration below.
        webhookSecret: secrets.githubWebhookSecret,
        workflows: [{ id: 1, file: GITHUB_WORKFLOW, ...workflow.workflow }],
      },
    ],
    control: true,
    // One self-hosted runner, which runs one job at a time (the signer's binding relies on it).
    runnerName: GITHUB_RUNNER_NAME,
    runnerSlots: 1,
    runJob: (ctx) =>
      jobTurn(() =>
        runAsSelfHostedRunner(
          {
            ...githubRunner.runner,
            onLog: (text) => {
              for (const line of text.split('\n')) if (line) prefixed('job')(line)
            },
          },
          workflow,
          ctx,
        ),
      ),
  })
  standins.push(github)

  log('starting the Worker in workerd (wrangler dev)…')
  const envFile = join(dataDir, 'worker.env')
  await writeFile(
    envFile,
    [
      `HPKE_PRIVATE_KEY=${secrets.hpkePrivateKey}`,
      `MINA_GRAPHQL_URL=${urls.minaGraphql}`,
      // Deposits and withdrawal requests are ledger actions, read from the archive.
      `MINA_ARCHIVE_URL=${urls.archive}`,
      `GITLAB_URL=${urls.gitlab}`,
      // The stand-in is plain http on loopback; production config never sets this.
      'DEV_ALLOW_LOOPBACK_PROVIDER=loopback-http',
      `HEARTBEAT_MAX_AGE_SLOTS=${HEARTBEAT_MAX_AGE_SLOTS}`,
      // After the stand-in refuses a job for quota, one job probes it again 10 s later (not 10 min).
      `QUOTA_PROBE_SECONDS=${QUOTA_PROBE_SECONDS}`,
      `MAX_JOB_SECONDS=${MAX_JOB_SECONDS}`,
      `RESULT_GRACE_SECONDS=${RESULT_GRACE_SECONDS}`,
      `CREDIT_TOKEN_ID=${deployment.creditTokenId}`,
      // Single quotes: the dotenv value is taken literally (it is JSON).
      `GENUINE_SERVICE_CODE='${JSON.stringify(deployment.genuine)}'`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  await sup.start({
    name: 'worker',
    command: node,
    args: [
      join(repo, 'node_modules/wrangler/bin/wrangler.js'),
      'dev',
      '--config',
      join(repo, 'wrangler.toml'),
      '--ip',
      host,
      '--port',
      String(config.workerPort),
      '--env-file',
      envFile,
      '--persist-to',
      join(dataDir, 'wrangler'),
      '--show-interactive-dev-session=false',
      '--inspector-port',
      '0',
    ],
    cwd: repo,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    readyUrl: `${urls.worker}/v1/health`,
    readyTimeoutMs: 120_000,
    onLine: prefixed('worker'),
  })

  log('registering the sample services with the Worker…')
  await registerWithWorker({
    workerUrl: urls.worker,
    service: deployment.service,
    descriptor,
    descriptorCid,
    credentials: {
      triggerToken: secrets.triggerToken,
      apiToken: secrets.apiToken,
      webhookSecret: secrets.webhookSecret,
    },
    runnerPrivateKey: runnerKey.toBase58(),
  })
  await registerWithWorker({
    workerUrl: urls.worker,
    service: githubDeployment.service,
    descriptor: githubDescriptor,
    descriptorCid: githubDescriptorCid,
    credentials: {
      triggerToken: secrets.githubToken,
      webhookSecret: secrets.githubWebhookSecret,
    },
    runnerPrivateKey: runnerKey.toBase58(),
  })
  await registerWithWorker({
    workerUrl: urls.worker,
    service: privateService.service,
    descriptor: privateService.descriptor,
    descriptorCid: privateDescriptorCid,
    credentials: {
      triggerToken: secrets.triggerToken,
      apiToken: secrets.apiToken,
      webhookSecret: secrets.webhookSecret,
      coordinates: privateService.coordinates,
    },
    runnerPrivateKey: runnerKey.toBase58(),
  })
  await registerWithWorker({
    workerUrl: urls.worker,
    service: sponsoredDeployment.service,
    descriptor: sponsoredDescriptor,
    descriptorCid: sponsoredDescriptorCid,
    credentials: {
      triggerToken: secrets.triggerToken,
      apiToken: secrets.apiToken,
      webhookSecret: secrets.webhookSecret,
    },
    runnerPrivateKey: runnerKey.toBase58(),
  })

  // The agent's heartbeat duty, in this process (it shares the stack's chain connection, and
  // proving needs no second compile): it reads the allowed age from the Worker and renews at half
  // of it, as `zkrunner-agent heartbeat`. It lives and dies with the agent's gateway process, as
  // that command run next to `gateway` would: when the agent is killed its versions go stale.
  const world = heartbeatWorldOnActiveChain({
    runnerKey,
    payer,
    workerUrl: urls.worker,
    services: [
      deployment.service,
      githubDeployment.service,
      privateService.service,
      sponsoredDeployment.service,
    ],
  })
  let duty: { stop: AbortController; done: Promise<void> } | undefined
  const keepAlive = async () => {
    await duty?.done
    const agentProc = gateway
    if (!agentProc) return
    const stop = new AbortController()
    void agentProc.exited.then(() => stop.abort())
    duty = {
      stop,
      done: runHeartbeatDuty(world, {
        slotMs: config.blockIntervalMs,
        log,
        signal: stop.signal,
      }),
    }
  }
  await keepAlive()
  closers.push(async () => {
    duty?.stop.abort()
    await duty?.done
  })

  // The sponsor funds its pool and signs its grant with its own key; the Worker gets only the
  // signed grant (README: "Sponsoring a service").
  const sponsoredStatus = (await (
    await fetch(`${urls.worker}/v1/services/${sponsoredDeployment.service}`)
  ).json()) as { chain?: { currentSlot?: string } }
  const pool = await ensureSponsorPool({
    payer,
    service: sponsoredDeployment.service,
    sponsorKey,
    price: PRICE_PER_JOB,
    currentSlot: BigInt(sponsoredStatus.chain?.currentSlot ?? '0'),
    workerUrl: urls.worker,
    log,
  })
  const sponsoredService = {
    provider: 'gitlab' as const,
    ...sponsoredDeployment,
    descriptor: sponsoredDescriptor,
    descriptorCid: sponsoredDescriptorCid,
    sponsor: sponsorKey.toPublicKey().toBase58(),
    pool,
  }

  const page = await startPageServer(config.pagePort, {
    workerUrl: urls.worker,
    minaGraphqlUrl: urls.minaGraphql,
    archiveUrl: urls.archive,
    gateways: [urls.gateway],
    networkId: NETWORK_ID,
    registryAddress: deployment.registry,
    tokenAddress: deployment.token,
    creditTokenId: deployment.creditTokenId,
    genuineCode: deployment.genuine,
    devKey: pageUserKey.toBase58(),
    maxHeartbeatAgeSlots: HEARTBEAT_MAX_AGE_SLOTS,
    // The ledger's largest circuit (processBatch, 28,522 rows) takes the browser's WebAssembly
    // backend over half an hour to compile on two busy cores, and every ledger method compiles
    // with it: against a chain that verifies no proofs the page proves nothing, as the stack.
    dummyProofs: !prove,
  })
  closers.push(page.close)
  urls.page = page.url

  const stopAgent = async (options: { kill?: boolean } = {}) => {
    const proc = gateway
    gateway = undefined
    if (proc) await (options.kill ? sup.kill(proc) : sup.stop(proc))
    // The exit aborted the duty; a round in flight still finishes: wait for it.
    duty?.stop.abort()
    await duty?.done
  }
  const startAgent = async () => {
    // Running unless it exited on its own (a crash): then it is started again, duty and all.
    if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) return
    gateway = await startGateway()
    await keepAlive()
  }

  const ledger = new JobLedger(join(dataDir, 'jobs.json'))
  const endpoints = {
    genuine: { creditTokenId: deployment.creditTokenId, code: deployment.genuine },
    workerUrl: urls.worker,
    minaGraphqlUrl: urls.minaGraphql,
    archiveUrl: urls.archive,
    gateways: [urls.gateway],
    registryAddress: deployment.registry,
  }

  /** Records an accepted job in the stack's job ledger, watches it to its end, records its result. */
  const recordAndWatch = async (
    jobId: string,
    service: string,
    user: string,
    accepted: string,
    onLine: (line: string) => void,
  ) => {
    const entry = { jobId, service, user, bundleCid: null, manifestDigest: null }
    await ledger.record({ ...entry, at: new Date().toISOString() })
    onLine(`job ${jobId} ${accepted}; watching it`)
    const job = await watchJob(urls.worker, jobId, (st, d) =>
      onLine(`  status: ${st}${d ? ` (${d})` : ''}`),
    )
    const bundleCid = job.result?.bundleCid ?? null
    await ledger.record({
      ...entry,
      bundleCid,
      manifestDigest: job.result?.manifestDigest ?? null,
      at: job.createdAt,
    })
    if (bundleCid) onLine(`result bundle ${bundleCid}`)
    return { status: job.status, bundleCid }
  }

  const userPublicKey = userKey.toPublicKey().toBase58()
  const requestOne = async (
    limit: number,
    onLine: (line: string) => void = log,
    target: StackProvider | { service: string; descriptor: ServiceDescriptor } = 'gitlab',
  ): Promise<StackJob> => {
    const chosen = typeof target === 'string' ? services[target] : target
    const provider: StackProvider = chosen.descriptor.provider
    const { service, descriptor: offered } = chosen
    // The user's funding is theirs to read: the query is signed with their key.
    const query = statusQueryString(
      signStatusQuery({ user: userPublicKey, expires: statusQueryExpiry() }, userKey.toBase58()),
    )
    const status = await fetch(`${urls.worker}/v1/services/${service}${query}`)
    const funding = ((await status.json()) as { chain?: { funding?: { owed?: string } } }).chain
      ?.funding
    await ensureDeposit(
      payer,
      pk(service),
      userKey,
      BigInt(funding?.owed ?? '0'),
      BigInt(offered.pricePerJob),
      1n,
      onLine,
    )
    onLine(`requesting a job on ${provider}: LIMIT=${limit}`)
    const { jobId, user, request } = await requestJob(
      endpoints,
      service,
      offered,
      userKey.toBase58(),
      {
        LIMIT: limit,
      },
      onLine,
    )
    const watched = await recordAndWatch(jobId, service, user, 'accepted', onLine)
    return { provider, service, jobId, user, request, ...watched }
  }
  const requestSponsored = async (
    limit: number,
    onLine: (line: string) => void = log,
    jobUserKey: PrivateKey = PrivateKey.random(),
  ): Promise<StackJob> => {
    const { service, descriptor: offered, sponsor } = sponsoredService
    onLine(
      `requesting a sponsored job: LIMIT=${limit}, user ${jobUserKey.toPublicKey().toBase58()} (signs the request only), paid by the pool of ${sponsor}`,
    )
    const { jobId, user, request } = await requestSponsoredJob(
      endpoints,
      service,
      offered,
      jobUserKey.toBase58(),
      sponsor,
      { LIMIT: limit },
    )
    const { status, bundleCid } = await recordAndWatch(
      jobId,
      service,
      user,
      'accepted on the pool',
      onLine,
    )
    return { provider: 'gitlab', service, jobId, user, request, status, bundleCid, payer: sponsor }
  }
  const settle = (onLine: (line: string) => void = log) => {
    onLine('settling on chain (the runner proves one transaction for all reported jobs)…')
    return runAgent(sup, agent, ['settle'], agentEnv, onLine)
  }
  const verify = (job: StackJob, onLine: (line: string) => void = log) => {
    if (!job.bundleCid) throw new Error(`job ${job.jobId} has no reported result`)
    onLine('verifying, as anyone can, from the gateway and the chain alone:')
    return verifyJob(
      endpoints,
      {
        bundleCid: job.bundleCid,
        service: job.service,
        request: job.request,
        ...(job.payer ? { payer: job.payer } : {}),
      },
      (l) =>
        onLine(
          `  ${l.status === 'ok' ? '✓' : l.status === 'broken' ? '✗' : '…'} ${l.name}: ${l.detail}`,
        ),
      (o) => {
        if (!o) return
        const values = o.values.map((v) => `${v.name} = ${v.value ?? '(not written)'}`).join(', ')
        onLine(
          `  outputs ${o.valid ? 'valid' : 'INVALID'} (signed in the manifest; declaration ${o.declaration}): ${values}; outputsDigest ${o.outputsDigest}`,
        )
        for (const p of o.problems) onLine(`    problem: ${p}`)
      },
    )
  }
  /** The sponsored ledger's channels of a job's user and of the pool (the sponsor's). */
  const sponsoredChannels = async (user: string) => {
    const service = pk(sponsoredService.service)
    const [u, p] = await Promise.all([
      readUserChannel(service, pk(user)),
      readUserChannel(service, pk(sponsoredService.sponsor)),
    ])
    return { user: u, pool: p }
  }
  const runSampleJobs = async (
    limit: number,
    providers: readonly StackProvider[],
    lineFor: (provider?: StackProvider | 'sponsored') => (line: string) => void = () => log,
    options: { sponsored?: boolean } = {},
  ): Promise<SampleRun[]> => {
    const jobs: StackJob[] = []
    for (const provider of providers)
      jobs.push(await requestOne(limit, lineFor(provider), provider))
    let sponsoredBefore: Awaited<ReturnType<typeof sponsoredChannels>> | undefined
    if (options.sponsored) {
      const job = await requestSponsored(limit, lineFor('sponsored'))
      sponsoredBefore = await sponsoredChannels(job.user)
      jobs.push(job)
    }
    // One settlement pays for every reported job, whichever service (or pool) it was bought from.
    if (jobs.some((j) => j.bundleCid)) await settle(lineFor())
    const runs: SampleRun[] = []
    for (const job of jobs) {
      const links = job.bundleCid
        ? await verify(job, lineFor(job.payer ? 'sponsored' : job.provider))
        : []
      let verified = links.length > 0 && links.every((l) => l.status === 'ok')
      let payment: SampleRun['payment']
      if (job.payer && sponsoredBefore) {
        // The user pays nothing: their channel in the service's ledger does not move; the pool's
        // pays the runner at least this job's price (no more than its earlier unsettled jobs too).
        const after = await sponsoredChannels(job.user)
        const b = sponsoredBefore
        payment = {
          userChannelMoved:
            after.user.deposited !== b.user.deposited ||
            after.user.paidSoFar !== b.user.paidSoFar ||
            after.user.voucherNonce !== b.user.voucherNonce,
          poolPaid: after.pool.paidSoFar - b.pool.paidSoFar,
        }
        lineFor('sponsored')(
          `  payment: the pool paid ${payment.poolPaid} credits; the user's channel ${payment.userChannelMoved ? 'MOVED' : 'did not move'}`,
        )
        verified &&= !payment.userChannelMoved && payment.poolPaid >= PRICE_PER_JOB
      }
      runs.push({ ...job, links, verified, ...(payment ? { payment } : {}) })
    }
    return runs
  }
  return {
    urls,
    proofs: prove,
    keys: {
      user: mina(userKey),
      pageUser: mina(pageUserKey),
      runner: mina(runnerKey),
      deployer: mina(deployerKey),
      sponsor: mina(sponsorKey),
    },
    deployment,
    descriptor,
    services,
    privateService,
    sponsoredService,
    githubJobsThroughSigner: githubRunner.signer !== undefined,
    gitlab,
    github,
    faults,
    stop,
    requestJob: requestOne,
    requestSponsoredJob: requestSponsored,
    settle,
    verify,
    async restartGateway() {
      await stopAgent()
      await startAgent()
    },
    runSampleJob: async (limit, onLine = log, provider = 'gitlab') =>
      (await runSampleJobs(limit, [provider], () => onLine))[0]!,
    runSampleJobs,
    stopAgent,
    startAgent,
    async advanceSlots(slots) {
      const res = await fetch(`${chainBase}/local/advance-slots`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ slots }),
      })
      if (!res.ok) throw new Error(`advancing ${slots} slots: ${res.status} ${await res.text()}`)
    },
    agentDataDir,
  }
}

/** Runs one agent command to completion under the supervisor, its output as lines. */
async function runAgent(
  sup: Supervisor,
  agent: { command: string; args: readonly string[] },
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine: (line: string) => void,
): Promise<void> {
  const code = await sup.exec({
    name: `agent ${args[0]}`,
    command: agent.command,
    args: [...agent.args, ...args],
    env,
    onLine: (line) => onLine(`  [${args[0]}] ${line}`),
  })
  if (code !== 0) throw new Error(`zkrunner-agent ${args.join(' ')} exited with ${code}`)
}

/**
 * The key recorded for a descriptor in `path`, made on first start. `evenY`: a key with an even y
 * (a service's ledger key: the service keeps its x only).
 */
async function serviceKeyFor(
  path: string,
  descriptorCid: string,
  evenY = false,
): Promise<PrivateKey> {
  let known: Record<string, string> = {}
  try {
    known = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>
  } catch {
    // First start.
  }
  const existing = known[descriptorCid]
  if (existing) return PrivateKey.fromBase58(existing)
  let key = PrivateKey.random()
  while (evenY && key.toPublicKey().isOdd.toBoolean()) key = PrivateKey.random()
  known[descriptorCid] = key.toBase58()
  await writeFile(path, `${JSON.stringify(known, null, 2)}\n`, { mode: 0o600 })
  return key
}

import { env, exports } from 'cloudflare:workers'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { inject } from 'vitest'
import {
  ActionKind,
  canonicalBytes,
  channelsRootOf,
  cidToFields,
  decodeTerms,
  EMPTY_ACTION_STATE,
  type Envelope,
  encodeHeartbeat,
  encodeTerms,
  FROZEN_SERVICE_PERMISSIONS,
  foldLedgerActions,
  generateMinaKeyPair,
  JOB_REQUEST_INFO,
  LedgerState,
  ledgerActionStateQuery,
  type MinaKeyPair,
  newRequestId,
  nextActionState,
  type ParameterValues,
  type PrivateCoordinates,
  type PublicServiceDescriptor,
  parseLedgerHead,
  privateCommitment,
  publicKeyToFields,
  type ServiceDescriptor,
  type ServiceRegistration,
  sealJson,
  sha256,
  signServiceRegistration,
  signStatusQuery,
  signVoucher,
  sourceCommitmentToField,
  statusQueryExpiry,
  statusQueryString,
  TRIGGER_TOKEN_INFO,
} from '../../protocol/index.ts'
import { ledgerActionFields } from '../../protocol/test-support/ledger-action.ts'
import type { Env } from '../env.ts'
import {
  type FakeAccount,
  TEST_API_TOKEN,
  TEST_CREDIT_TOKEN_ID,
  TEST_GENUINE_CODE,
  TEST_GITHUB_REPOSITORY,
  TEST_GITHUB_TOKEN,
  TEST_PROJECT_ID,
  TEST_SALT,
  TEST_TRIGGER_TOKEN,
  TEST_WEBHOOK_SECRET,
} from './constants.ts'
import type { FakeGithubFaults } from './fake-github.ts'
import {
  fixtureLedgerAddress,
  fixtureLedgerX,
  genuineLedger,
  genuineLedgerVault,
} from './ledger-fixture.ts'

/** The test Worker's bindings. */
export const testEnv = env as unknown as Env

/** A request to the Worker through its real entry point (the same isolate as the test). */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return (exports as unknown as { default: Fetcher }).default.fetch(`http://worker${path}`, init)
}

/** POSTs JSON to the Worker. */
export const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

const minaControl = () => inject('minaUrl').replace(/\/graphql$/, '')

/** Sets an account on the fake Mina node (`keepActions`: the actions it had stay landed). */
export async function setChainAccount(
  publicKey: string,
  account: FakeAccount,
  token?: string,
  options: { keepActions?: boolean } = {},
): Promise<void> {
  await fetch(`${minaControl()}/__fake/account`, {
    method: 'POST',
    body: JSON.stringify({ publicKey, account, token, keepActions: options.keepActions === true }),
  })
}

const frozenVk = { auth: 'Impossible', txnVersion: TEST_GENUINE_CODE.txnVersion }

/** The code and permissions of a genuine ServiceContract account, as the fake node reports them. */
export const genuineServiceCode = (): FakeAccount => ({
  verificationKey: { hash: TEST_GENUINE_CODE.serviceVkHash },
  permissions: { ...FROZEN_SERVICE_PERMISSIONS, setVerificationKey: frozenVk },
})

/** A genuine LedgerVault account holding `balance` credits (the escrow of a service's ledger). */
export const genuineVault = genuineLedgerVault

/** Sets the vault account `(ledger, credit token)` of a fake service's ledger. */
export const setVault = (service: string, account: FakeAccount) =>
  setChainAccount(fixtureLedgerAddress(service), account, TEST_CREDIT_TOKEN_ID)

/** Sets the fake node's current slot. */
export async function setSlot(slot: number): Promise<void> {
  await fetch(`${minaControl()}/__fake/slot`, { method: 'POST', body: JSON.stringify({ slot }) })
}

/** Replaces the GitLab stand-in's fault queues. */
export async function setGitlabFaults(faults: unknown): Promise<void> {
  await fetch(`${inject('gitlabUrl')}/__standin/faults`, {
    method: 'POST',
    body: JSON.stringify(faults),
  })
}

/** The stand-in's pipelines carrying a job id, and its trigger request count. */
export async function pipelinesFor(jobId: string): Promise<{
  triggerRequests: number
  pipelines: { id: number; status: string; variables: { key: string; value: string }[] }[]
}> {
  const res = await fetch(`${inject('gitlabUrl')}/__standin/pipelines`)
  const body = (await res.json()) as {
    triggerRequests: number
    pipelines: { id: number; status: string; variables: { key: string; value: string }[] }[]
  }
  return {
    triggerRequests: body.triggerRequests,
    pipelines: body.pipelines.filter((p) =>
      p.variables.some((v) => v.key === 'ZKRUNNER_JOB_ID' && v.value === jobId),
    ),
  }
}

/** The Worker's current HPKE public key, as a client learns it. */
export async function workerKey(): Promise<{ kid: string; publicKey: string }> {
  return (await (await call('/v1/keys')).json()) as { kid: string; publicKey: string }
}

const SLOT = 1000

/** A service on the fake chain, registered (or ready to register) with the Worker. */
export interface TestService {
  address: string
  operator: MinaKeyPair
  /** Where the job runs: the published descriptor, or a private service's sealed coordinates in it. */
  descriptor: PublicServiceDescriptor
  /** The descriptor as published (for a private service: no coordinates, a Poseidon commitment). */
  published: ServiceDescriptor
  /** A private service's sealed coordinates (with the opening of its commitment). */
  coordinates?: PrivateCoordinates
  descriptorCid: string
  registration: ServiceRegistration
  price: bigint
}

/** Deploys a fake service contract on the fake chain and builds its signed registration. */
export async function makeService(
  options: {
    price?: bigint
    heartbeatSlot?: number
    /** What the service's ledger has paid its runner (its runnerPaid state). */
    runnerPaid?: bigint
    apiToken?: boolean
    triggerToken?: string
    /** The webhook secret sealed in the registration; null seals none. */
    webhookSecret?: string | null
    parameters?: ServiceDescriptor['parameters']
    /** Typed outputs the descriptor declares (none unless a test says otherwise). */
    outputs?: ServiceDescriptor['outputs']
    /** The escrow account; a genuine vault by default. */
    vault?: FakeAccount
    /** Overrides of the service account's code and permissions. */
    serviceCode?: FakeAccount
    providerUrl?: string
    /** The codec of the descriptor CID the contract holds (raw unless a test says otherwise). */
    codec?: number
    /** The CI provider (GitLab unless a test says otherwise). */
    provider?: ServiceDescriptor['provider']
    /** A private service: its coordinates travel only sealed. */
    visibility?: 'private'
    /** The GitLab project as the descriptor (or the sealed coordinates) name it. */
    project?: string
    /** Overrides of the sealed coordinates of a private service (a wrong opening, say). */
    coordinates?: Partial<PrivateCoordinates>
  } = {},
): Promise<TestService> {
  const { publicKey } = await workerKey()
  const operator = generateMinaKeyPair()
  const address = generateMinaKeyPair().publicKey
  const price = options.price ?? 10n
  const descriptor: PublicServiceDescriptor = {
    v: 1,
    name: 'test service',
    description: '',
    ...(options.provider === 'github'
      ? {
          provider: 'github' as const,
          providerUrl: options.providerUrl ?? 'https://github.com',
          project: TEST_GITHUB_REPOSITORY,
          workflow: 'zkrunner.yml',
        }
      : {
          provider: 'gitlab' as const,
          providerUrl: options.providerUrl ?? 'https://gitlab.example.com',
          project: options.project ?? String(TEST_PROJECT_ID),
        }),
    ref: 'main',
    job: 'zkrunner',
    sourceCommitment: 'a91957a858320c0e17f3a0eca7cfacbff50ea29a',
    pricePerJob: String(price),
    runnerPublicKey: operator.publicKey,
    workerPublicKey: publicKey,
    parameters: options.parameters ?? [
      { name: 'N', type: 'integer', min: 1, max: 10, required: true },
    ],
    ...(options.outputs ? { outputs: options.outputs } : {}),
  }
  const coordinates: PrivateCoordinates | undefined =
    options.visibility === 'private'
      ? {
          providerUrl: descriptor.providerUrl,
          project: descriptor.project,
          ref: descriptor.ref,
          job: descriptor.job,
          ...(descriptor.workflow ? { workflow: descriptor.workflow } : {}),
          salt: TEST_SALT,
          commit: descriptor.sourceCommitment,
        }
      : undefined
  const published: ServiceDescriptor = coordinates
    ? {
        v: 1,
        name: descriptor.name,
        description: descriptor.description,
        provider: descriptor.provider,
        visibility: 'private',
        sourceCommitment: privateCommitment(coordinates),
        pricePerJob: descriptor.pricePerJob,
        runnerPublicKey: descriptor.runnerPublicKey,
        workerPublicKey: descriptor.workerPublicKey,
        parameters: descriptor.parameters,
      }
    : descriptor
  const cid = CID.createV1(
    options.codec ?? 0x55,
    createDigest(0x12, sha256(canonicalBytes(published))),
  )
  const [cid0, cid1] = (() => {
    const f = cidToFields(cid)
    if (!f.ok) throw f.error
    return f.value
  })()
  await setSlot(SLOT)
  await setVault(address, options.vault ?? genuineVault())
  const zkappState = [
    sourceCommitmentToField(published.sourceCommitment),
    cid0,
    cid1,
    encodeTerms({ pricePerJob: price, withdrawTimelockSlots: 100n }),
    0n,
    0n,
    fixtureLedgerX(address),
    encodeHeartbeat({
      lastHeartbeatSlot: BigInt(options.heartbeatSlot ?? SLOT),
      settledJobs: 0n,
    }),
  ].map(String)
  const ledger = genuineLedger(address, zkappState)
  if (options.runnerPaid !== undefined && options.runnerPaid > 0n)
    Object.assign(ledger, paidLedgerHistory(ledger, price, options.runnerPaid))
  await setChainAccount(fixtureLedgerAddress(address), ledger)
  if (options.runnerPaid) await creditVault({ address }, options.runnerPaid)
  await setChainAccount(address, {
    ...genuineServiceCode(),
    ...options.serviceCode,
    zkappState,
  })
  const credentials =
    options.provider === 'github'
      ? {
          v: 1,
          provider: 'github',
          token: options.triggerToken ?? TEST_GITHUB_TOKEN,
          webhookSecret: options.webhookSecret ?? TEST_WEBHOOK_SECRET,
        }
      : {
          v: 1,
          triggerToken: options.triggerToken ?? TEST_TRIGGER_TOKEN,
          ...(options.apiToken === false ? {} : { apiToken: TEST_API_TOKEN }),
          ...(options.webhookSecret === null
            ? {}
            : { webhookSecret: options.webhookSecret ?? TEST_WEBHOOK_SECRET }),
        }
  const sealed = coordinates
    ? { ...credentials, coordinates: { ...coordinates, ...options.coordinates } }
    : credentials
  const triggerToken = await sealJson(publicKey, TRIGGER_TOKEN_INFO, sealed)
  const registration = signServiceRegistration(
    {
      v: 1,
      service: address,
      descriptor: published,
      descriptorCid: cid.toString(),
      triggerToken,
    },
    operator.privateKey,
  )
  return {
    address,
    operator,
    descriptor,
    published,
    ...(coordinates ? { coordinates } : {}),
    descriptorCid: cid.toString(),
    registration,
    price,
  }
}

/**
 * A ledger whose batches paid the runner `runnerPaid` (a multiple of `price`), as the chain holds
 * it: a user's deposit and the runner's claim, processed (its action state, channels root and
 * runnerPaid are what those actions give), so the Worker's solvency check holds.
 */
function paidLedgerHistory(ledger: FakeAccount, price: bigint, runnerPaid: bigint): FakeAccount {
  if (runnerPaid % price !== 0n) throw new Error('runnerPaid is not a whole number of jobs')
  const [x, isOdd] = (() => {
    const f = publicKeyToFields(generateMinaKeyPair().publicKey)
    if (!f.ok) throw f.error
    return f.value
  })()
  const raw = [
    [BigInt(ActionKind.deposit), x, isOdd, runnerPaid, 0n, 0n, 0n, 0n],
    [BigInt(ActionKind.settle), x, isOdd, runnerPaid, 1n, 0n, 7n, runnerPaid / price],
  ]
  let state = EMPTY_ACTION_STATE
  const actions = raw.map((data) => {
    state = nextActionState(state, [data])
    return { data: data.map(String), state: String(state) }
  })
  const zkappState = [...(ledger.zkappState ?? [])]
  const terms = decodeTerms(BigInt(zkappState[LedgerState.terms] ?? 0))
  const reading = foldLedgerActions(raw, terms, state)
  zkappState[LedgerState.actionState] = String(state)
  zkappState[LedgerState.channelsRoot] = String(channelsRootOf(reading.book))
  zkappState[LedgerState.runnerPaid] = String(reading.runnerPaid)
  return { ...ledger, zkappState, actions }
}

/** Deploys and registers a service; fails the test if registration fails. */
export async function registeredService(
  options: Parameters<typeof makeService>[0] = {},
): Promise<TestService> {
  const service = await makeService(options)
  const res = await postJson('/v1/services', service.registration)
  if (res.status !== 201) throw new Error(`registration failed: ${await res.text()}`)
  return service
}

/**
 * Lands one action on the fake ledger of `service` (kind and user, the other LedgerAction fields
 * as given): what a deposit, claim or withdrawal request dispatches on chain.
 */
export async function dispatchLedgerAction(
  service: { address: string },
  kind: number,
  user: string,
  o: Partial<{
    amount: bigint
    nonce: bigint
    slot: bigint
    resultsCount: bigint
    /** The action lands on chain but the archive does not list it (a lying archive). */
    hidden: boolean
  }> = {},
): Promise<void> {
  const { hidden: _, ...values } = o
  const data = ledgerActionFields(kind, user, { ...values, resultsRoot: o.resultsCount ? 7n : 0n })
  const ledger = fixtureLedgerAddress(service.address)
  // The fake hashes nothing: the action state after this action is computed here, as the chain does.
  const res = await fetch(inject('minaUrl'), {
    method: 'POST',
    body: JSON.stringify({ query: ledgerActionStateQuery(ledger) }),
  })
  const { actionState } = parseLedgerHead(((await res.json()) as { data: unknown }).data)
  const state = String(nextActionState(actionState, [data]))
  await fetch(`${minaControl()}/__fake/dispatch`, {
    method: 'POST',
    body: JSON.stringify({
      publicKey: ledger,
      action: { data: data.map(String), state },
      hidden: o.hidden === true,
    }),
  })
}

const ledgerControl = (path: string, body: Record<string, unknown>) =>
  fetch(`${minaControl()}/__fake/${path}`, { method: 'POST', body: JSON.stringify(body) })

/** Actions the fake archive has listed for the service's ledger so far (what reads cost). */
export async function archiveListed(service: { address: string }): Promise<number> {
  const res = await ledgerControl('archive-listed', {
    publicKey: fixtureLedgerAddress(service.address),
  })
  return ((await res.json()) as { listed: number }).listed
}

/** Orphans the ledger's actions after its first `keep` (a reorg; later dispatches extend it). */
export const reorgLedger = async (service: { address: string }, keep: number) => {
  await ledgerControl('reorg', { publicKey: fixtureLedgerAddress(service.address), keep })
}

/** Makes the archive alter the first action of every answer listed from a kept action state. */
export const lyingIncrement = async (service: { address: string }, lie: boolean) => {
  await ledgerControl('lying-increment', { publicKey: fixtureLedgerAddress(service.address), lie })
}

/**
 * Deposits `amount` credits for `user` into the service's ledger: a deposit action, and the
 * credits in its vault (as ChannelLedger.deposit moves them), so the ledger stays solvent.
 */
export async function depositFor(
  service: { address: string },
  user: string,
  amount: bigint,
): Promise<void> {
  await dispatchLedgerAction(service, ActionKind.deposit, user, { amount })
  await creditVault(service, amount)
}

/** Adds `amount` credits to the balance of the service's ledger vault (keeping its code). */
export async function creditVault(service: { address: string }, amount: bigint): Promise<void> {
  const ledger = fixtureLedgerAddress(service.address)
  const res = await fetch(inject('minaUrl'), {
    method: 'POST',
    body: JSON.stringify({
      query: `{ v: account(publicKey: ${JSON.stringify(ledger)}, token: ${JSON.stringify(TEST_CREDIT_TOKEN_ID)}) { balance { total } } }`,
    }),
  })
  const found = ((await res.json()) as { data: { v: Record<string, unknown> | null } }).data.v
  const account: FakeAccount = {}
  if (found?.zkappState) account.zkappState = found.zkappState as string[]
  if (found?.verificationKey) account.verificationKey = found.verificationKey as { hash: string }
  if (found?.permissions) account.permissions = found.permissions as Record<string, unknown>
  const before = BigInt((found?.balance as { total?: string } | undefined)?.total ?? '0')
  account.balance = String(before + amount)
  await setVault(service.address, account)
}

/** A user with a deposit of `deposit` credits into `service`'s ledger. */
export async function fundedUser(service: TestService, deposit: bigint): Promise<MinaKeyPair> {
  const user = generateMinaKeyPair()
  await depositFor(service, user.publicKey, deposit)
  return user
}

/** `GET /v1/services/:address` for `user`, with the user's signed status query. */
export const serviceStatusPath = (service: { address: string }, user: MinaKeyPair) =>
  `/v1/services/${service.address}${statusQueryString(
    signStatusQuery({ user: user.publicKey, expires: statusQueryExpiry() }, user.privateKey),
  )}`

/** A sealed job submission. */
export async function sealedJob(
  service: TestService,
  user: MinaKeyPair,
  options: {
    cumulativeAmount: bigint
    nonce: bigint
    parameters?: ParameterValues
    requestId?: string
    expiresAt?: number
    /** The service versions above this request (a driver call); absent: a user's own request. */
    callPath?: string[]
  },
): Promise<{ envelope: Envelope; requestId: string }> {
  const { publicKey } = await workerKey()
  const requestId = options.requestId ?? newRequestId()
  const request = {
    v: 1 as const,
    service: service.address,
    user: user.publicKey,
    requestId,
    parameters: options.parameters ?? { N: 3 },
    expiresAt: options.expiresAt ?? Math.floor(Date.now() / 1000) + 600,
    ...(options.callPath ? { callPath: options.callPath } : {}),
  }
  const voucher = signVoucher(
    {
      v: 1,
      user: user.publicKey,
      service: service.address,
      cumulativeAmount: String(options.cumulativeAmount),
      nonce: String(options.nonce),
    },
    user.privateKey,
  )
  return { envelope: await sealJson(publicKey, JOB_REQUEST_INFO, { request, voucher }), requestId }
}

/** Replaces the fake GitHub's fault plan. */
export async function setGithubFaults(faults: FakeGithubFaults): Promise<void> {
  await fetch(`${inject('githubUrl')}/__fake/faults`, {
    method: 'POST',
    body: JSON.stringify(faults),
  })
}

/** The fake GitHub's runs carrying a job id, and its dispatch request count. */
export async function githubRunsFor(jobId: string): Promise<{
  dispatchRequests: number
  runs: { id: string; inputs: Record<string, string>; title: string }[]
}> {
  const body = (await (await fetch(`${inject('githubUrl')}/__fake/state`)).json()) as {
    dispatchRequests: number
    runs: { id: string; inputs: Record<string, string>; title: string }[]
  }
  return {
    dispatchRequests: body.dispatchRequests,
    runs: body.runs.filter((r) => r.inputs.ZKRUNNER_JOB_ID === jobId),
  }
}

/** GitHub's X-Hub-Signature-256 of `body` under `secret`. */
export async function githubSignature(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body)))
  return `sha256=${Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

/** The `error` of a refused request's JSON body. */
/** The body's error (the Worker's one error shape; `path` names a refused field, when it is one). */
export const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string; path?: string[] } }).error

/** Submits `user`'s job to `service` at voucher (`cumulativeAmount`, `nonce`): the answer, the job's id. */
export async function submit(
  service: TestService,
  user: MinaKeyPair,
  cumulativeAmount: bigint,
  nonce: bigint,
): Promise<{ res: Response; requestId: string }> {
  const { envelope, requestId } = await sealedJob(service, user, { cumulativeAmount, nonce })
  return { res: await postJson('/v1/jobs', envelope), requestId }
}

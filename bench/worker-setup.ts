import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { startGitlabStandin } from '../gitlab-standin/index.ts'
import {
  ActionKind,
  canonicalBytes,
  cidToFields,
  commitToField,
  EMPTY_ACTION_STATE,
  encodeHeartbeat,
  encodeTerms,
  FROZEN_SERVICE_PERMISSIONS,
  generateHpkeKeyPair,
  generateMinaKeyPair,
  type HpkeKeyPair,
  JOB_REQUEST_INFO,
  newRequestId,
  nextActionState,
  publicKeyToFields,
  type ServiceDescriptor,
  sealJson,
  sha256,
  signServiceRegistration,
  signVoucher,
  TRIGGER_TOKEN_INFO,
  unwrap,
} from '../protocol/index.ts'
import { TEST_CREDIT_TOKEN_ID, TEST_GENUINE_CODE } from '../worker/test-support/constants.ts'
import { startFakeMina } from '../worker/test-support/fake-mina.ts'
import {
  fixtureLedgerAddress,
  fixtureLedgerX,
  genuineLedger,
  genuineLedgerVault,
} from '../worker/test-support/ledger-fixture.ts'

// What both Worker benchmarks (through `wrangler dev` and straight into workerd) set up the same
// way: one service registered like an operator would, and users' sealed, paid job requests.

/** The GitLab project and trigger token the stand-in accepts. */
export const PROJECT = 42
/** The trigger token the service registration seals to the Worker. */
export const TRIGGER_TOKEN = 'glptt-bench-0123456789'

type FakeMina = Awaited<ReturnType<typeof startFakeMina>>
/** Sends a JSON POST to the Worker under test. */
export type Post = (path: string, body: string) => Promise<Response>

/** What the Worker under test talks to: a fake Mina node, the GitLab stand-in, its HPKE key. */
export interface Standins {
  mina: FakeMina
  gitlab: Awaited<ReturnType<typeof startGitlabStandin>>
  hpke: HpkeKeyPair
  close(): Promise<void>
}

/** Starts the stand-ins the Worker under test is configured with. */
export async function startStandins(): Promise<Standins> {
  const mina = await startFakeMina()
  const gitlab = await startGitlabStandin({
    projects: [{ id: PROJECT, triggerTokens: [TRIGGER_TOKEN] }],
    autoRun: false,
  })
  return {
    mina,
    gitlab,
    hpke: await generateHpkeKeyPair(),
    async close() {
      await gitlab.close()
      await mina.close()
    },
  }
}

/** The Worker's settings in both benchmarks (the HPKE key and stand-in URLs), as env bindings. */
export function workerBindings(s: Standins): Record<string, string> {
  return {
    HPKE_PRIVATE_KEY: s.hpke.privateKey,
    GITLAB_WEBHOOK_SECRET: 'bench-webhook-secret-0123456789',
    MINA_GRAPHQL_URL: s.mina.url,
    GITLAB_URL: s.gitlab.url,
    HEARTBEAT_MAX_AGE_SLOTS: '60',
    CHAIN_CACHE_MS: '2000',
    CREDIT_TOKEN_ID: TEST_CREDIT_TOKEN_ID,
    GENUINE_SERVICE_CODE: JSON.stringify(TEST_GENUINE_CODE),
  }
}

/** A registered service: its address and its ledger's action state (users' deposits are actions). */
export interface BenchService {
  address: string
  actionState: bigint
  /** Credits in the ledger's vault: every deposit's (the Worker refuses an insolvent ledger). */
  escrow: bigint
}

/** Puts one service on the fake chain and registers it with the Worker. */
export async function registerService(
  post: Post,
  mina: FakeMina,
  hpke: HpkeKeyPair,
): Promise<BenchService> {
  const operator = generateMinaKeyPair()
  const address = generateMinaKeyPair().publicKey
  const descriptor: ServiceDescriptor = {
    v: 1,
    name: 'bench',
    description: '',
    provider: 'gitlab',
    providerUrl: 'https://gitlab.example.com',
    project: String(PROJECT),
    ref: 'main',
    job: 'zkrunner',
    sourceCommitment: 'a91957a858320c0e17f3a0eca7cfacbff50ea29a',
    pricePerJob: '1',
    runnerPublicKey: operator.publicKey,
    workerPublicKey: hpke.publicKey,
    parameters: [{ name: 'N', type: 'integer', min: 1, max: 10, required: true }],
  }
  const cid = CID.createV1(0x55, createDigest(0x12, sha256(canonicalBytes(descriptor))))
  const [c0, c1] = unwrap(cidToFields(cid))
  mina.setSlot(1000)
  // A genuine, frozen service as the Worker checks it: both accounts' code and permissions.
  const frozenVk = { auth: 'Impossible', txnVersion: TEST_GENUINE_CODE.txnVersion }
  // Its ledger, at the address its state names, holds the escrow in its vault.
  mina.setAccount(fixtureLedgerAddress(address), genuineLedgerVault(), TEST_CREDIT_TOKEN_ID)
  const zkappState = [
    commitToField(descriptor.sourceCommitment),
    c0,
    c1,
    encodeTerms({ pricePerJob: 1n, withdrawTimelockSlots: 100n }),
    0n,
    0n,
    fixtureLedgerX(address),
    encodeHeartbeat({ lastHeartbeatSlot: 1000n, settledJobs: 0n }),
  ].map(String)
  mina.setAccount(fixtureLedgerAddress(address), genuineLedger(address, zkappState))
  mina.setAccount(address, {
    verificationKey: { hash: TEST_GENUINE_CODE.serviceVkHash },
    permissions: { ...FROZEN_SERVICE_PERMISSIONS, setVerificationKey: frozenVk },
    zkappState,
  })
  const registration = signServiceRegistration(
    {
      v: 1,
      service: address,
      descriptor,
      descriptorCid: cid.toString(),
      triggerToken: await sealJson(hpke.publicKey, TRIGGER_TOKEN_INFO, TRIGGER_TOKEN),
    },
    operator.privateKey,
  )
  const reg = await post('/v1/services', JSON.stringify(registration))
  if (reg.status !== 201) throw new Error(`registration failed: ${await reg.text()}`)
  return { address, actionState: EMPTY_ACTION_STATE, escrow: 0n }
}

/**
 * Sealed POST /v1/jobs bodies, one lane per user (funded on the fake chain), each lane's
 * vouchers in nonce order: every body is a distinct, valid, paid request.
 */
export async function jobBodies(
  mina: FakeMina,
  hpke: HpkeKeyPair,
  service: BenchService,
  lanes: number,
  total: number,
): Promise<string[][]> {
  const perLane = Math.ceil(total / lanes)
  const expiresAt = Math.floor(Date.now() / 1000) + 3600
  const out: string[][] = []
  for (let lane = 0; lane < lanes; lane++) {
    const user = generateMinaKeyPair()
    // The user's deposit lands in the service's ledger as an action (the fake hashes nothing).
    const [x, isOdd] = unwrap(publicKeyToFields(user.publicKey))
    const data = [BigInt(ActionKind.deposit), x, isOdd, BigInt(perLane + 10), 0n, 0n, 0n, 0n]
    service.actionState = nextActionState(service.actionState, [data])
    mina.dispatch(fixtureLedgerAddress(service.address), {
      data: data.map(String),
      state: String(service.actionState),
    })
    service.escrow += BigInt(perLane + 10)
    mina.setAccount(
      fixtureLedgerAddress(service.address),
      genuineLedgerVault(String(service.escrow)),
      TEST_CREDIT_TOKEN_ID,
    )
    const bodies: string[] = []
    for (let i = 1; i <= perLane && lane * perLane + i <= total; i++) {
      const voucher = signVoucher(
        {
          v: 1,
          user: user.publicKey,
          service: service.address,
          cumulativeAmount: String(i),
          nonce: String(i),
        },
        user.privateKey,
      )
      const request = {
        v: 1,
        service: service.address,
        user: user.publicKey,
        requestId: newRequestId(),
        parameters: { N: 3 },
        expiresAt,
      }
      bodies.push(
        JSON.stringify(await sealJson(hpke.publicKey, JOB_REQUEST_INFO, { request, voucher })),
      )
    }
    out.push(bodies)
  }
  return out
}

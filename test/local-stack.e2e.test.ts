import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Field, Lightnet, Poseidon, PrivateKey, PublicKey } from 'o1js'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { readSealed } from '../agent/bundle/build-bundle.ts'
import { Spool } from '../agent/spool/spool.ts'
import { main as deployCli } from '../contracts/deploy-cli.ts'
import {
  deposit,
  processBatches,
  readCredits,
  readEscrow,
  readServiceAccounts,
  readServiceState,
  readUserChannel,
  refund,
  requestWithdraw,
  withdraw,
} from '../contracts/index.ts'
import { main as operatorCli } from '../operator/cli.ts'
import {
  checkGenuineService,
  ledgerPaid,
  publicKeyToFields,
  type ResultManifest,
  type ServiceDescriptor,
  SLOT_WINDOW,
  unwrap,
} from '../protocol/index.ts'
import { DEFAULTS, type StackConfig } from '../stack/config.ts'
import { HOLD_MARKER } from '../stack/local-runner.ts'
import { SPONSOR_SPARE_JOBS, SPONSORED_POOL_JOBS } from '../stack/sponsored-sample.ts'
import {
  type LocalStack,
  type StackJob,
  startStack,
  WITHDRAW_TIMELOCK_SLOTS,
} from '../stack/stack.ts'
import { buildSealedSponsoredRequest } from '../static-site/src/sponsorship.ts'
import { devKeyWallet } from '../static-site/src/wallet/dev-key.ts'
import { launchChromium as launchChromiumIn } from '../static-site/test/support/chromium.ts'
import { createVerifiedReader } from '../verify/gateway-reader.ts'
import {
  decodeServiceState,
  GraphqlChainReader,
  LINKS,
  ownListings,
  registryEntries,
} from '../verify/index.ts'
import { installAuroStandIn } from './auro-standin.ts'
import { freePort } from './free-port.ts'

/** What was deposited for `user` in the service's ledger (until a withdrawal, all deposits). */
const depositedOf = async (service: PublicKey, user: PublicKey) =>
  (await readUserChannel(service, user)).deposited

/**
 * What the service's ChannelLedger has paid its runner (its runnerPaid) and the settled jobs that
 * makes, read as every reader reads them (protocol's ledgerPaid over the ledger account).
 */
async function ledgerPaidOf(service: string) {
  const reader = new GraphqlChainReader(stack.urls.minaGraphql, stack.urls.archive)
  const accounts = await reader.serviceAccounts(service, stack.deployment.creditTokenId)
  const state = await readServiceState(PublicKey.fromBase58(service))
  return ledgerPaid(accounts.ledger?.zkappState, state.terms.pricePerJob)
}

// The product's main job, end to end on loopback, with the faults an operator meets: GitLab
// failing, the runner crashing mid-job, the gateway restarting. Every job must end verified and
// settled exactly once, and no credit may be lost or paid twice.

const lines: string[] = []
const log = (line: string) => {
  lines.push(line)
  if (process.env.ZKRUNNER_E2E_VERBOSE) console.log(line)
}

let config: StackConfig
let stack: LocalStack
const jobs: StackJob[] = []
/** Jobs that did not run to an end: under the payable rule their user is never charged. */
const notCharged: StackJob[] = []
let userCreditsBefore = 0n
let runnerCreditsBefore = 0n

const pipelinesOf = (jobId: string) =>
  stack.gitlab.pipelines.filter((p) =>
    p.variables.some((v) => v.key === 'ZKRUNNER_JOB_ID' && v.value === jobId),
  )

const launchChromium = (profile: string) => launchChromiumIn(profile, { width: 1200, height: 1800 })

/** The stack's page in `context`, once ready, with its page errors and console errors collected. */
async function openPage(context: BrowserContext): Promise<{ page: Page; errors: string[] }> {
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  await page.goto(stack.urls.page)
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 300_000 })
  return { page, errors }
}

const allOk = (links: { status: string }[]) =>
  links.length === Object.keys(LINKS).length && links.every((l) => l.status === 'ok')

/**
 * Buys one job of `service` on the page as its dev wallet does: opens the market row, fills LIMIT,
 * sends the sealed request, confirms the voucher, and waits for the bundle. Returns the bundle's
 * CID and the variables the provider's run got (GitLab's pipeline variables, or GitHub's dispatch
 * inputs: the job id the Worker gave it among them).
 */
async function requestOnPage(page: Page, service: string, limit: number) {
  const github = service === stack.services.github.service
  const runs = () => (github ? stack.github.runs.length : stack.gitlab.pipelines.length)
  const row = page.locator(`#market tr[data-service="${service}"]`)
  await row.waitFor({ timeout: 60_000 })
  await expect.poll(() => row.textContent(), { timeout: 60_000 }).toContain('Available')
  await row.locator('button').click()
  const form = page.locator('form.request')
  await form.locator('input[name="LIMIT"]').fill(String(limit))
  const runsBefore = runs()
  await form.locator('button[type="submit"]').click()
  // The page shows the proven owed amount and the new voucher's amount; the user confirms.
  await page.locator('[data-role="voucher-confirm-button"]').click()
  await page.locator('[data-role="bundle-cid"]').waitFor({ timeout: 600_000 })
  const cid = (await page.locator('[data-role="bundle-cid"]').textContent())?.trim() ?? ''
  expect(cid).toMatch(/^baf/)
  expect(runs()).toBe(runsBefore + 1)
  const variables: Record<string, string> = github
    ? { ...stack.github.runs.at(-1)!.inputs }
    : Object.fromEntries(stack.gitlab.pipelines.at(-1)!.variables.map((v) => [v.key, v.value]))
  expect(variables.ZKRUNNER_SERVICE).toBe(service)
  return { cid, variables }
}

/** Verifies a result on the page's verify form; returns each link's status by name. */
async function verifyOnPage(page: Page, result: { cid: string; service: string; jobId: string }) {
  const verify = page.locator('[data-role="verify-form"]')
  await verify.locator('input[name="cid"]').fill(result.cid)
  await verify.locator('input[name="service"]').fill(result.service)
  await verify.locator('input[name="job"]').fill(result.jobId)
  await verify.locator('button[type="submit"]').click()
  const summary = page.locator('#verify [data-role="verify-summary"][data-result]')
  await summary.waitFor({ timeout: 300_000 })
  return Object.fromEntries(
    await page
      .locator('#verify ol.links li')
      .evaluateAll((lis) =>
        lis.map((li) => [li.getAttribute('data-link'), li.getAttribute('data-status')]),
      ),
  )
}

const EVERY_LINK_OK = {
  bundle: 'ok',
  manifest: 'ok',
  files: 'ok',
  signature: 'ok',
  runner: 'ok',
  service: 'ok',
  source: 'ok',
  settled: 'ok',
  inner: 'ok',
}

/** The Worker's public status of a service version. */
async function workerStatus(service: string) {
  const res = await fetch(`${stack.urls.worker}/v1/services/${service}`)
  return (await res.json()) as {
    enabled: boolean
    reason?: string
    retired: boolean
    chain: { maxHeartbeatAgeSlots: string; lastHeartbeatSlot: string; currentSlot: string } | null
  }
}

/**
 * The README's operator files in `dir`: a funded fee payer of its own (`payer.json`; one payer per
 * sender keeps nonces apart) and `deploy.json` with the alias `local` for this stack. The stack's
 * chain does not verify proofs, so the alias proves only when the stack does.
 */
async function writeOperatorAlias(dir: string): Promise<PrivateKey> {
  const payer = (
    await Lightnet.acquireKeyPair({
      isRegularAccount: true,
      lightnetAccountManagerEndpoint: stack.urls.accountManager,
    })
  ).privateKey
  await writeFile(
    join(dir, 'payer.json'),
    JSON.stringify({ publicKey: payer.toPublicKey().toBase58(), privateKey: payer.toBase58() }),
  )
  await writeFile(
    join(dir, 'deploy.json'),
    JSON.stringify({
      deployAliases: {
        local: {
          networkId: 'devnet',
          url: stack.urls.minaGraphql,
          archive: stack.urls.archive,
          feePayerKeyPath: 'payer.json',
          fee: '0.1',
          prove: stack.proofs,
          creditToken: stack.deployment.token,
          registry: stack.deployment.registry,
        },
      },
    }),
  )
  return payer
}

/** The version offered with `npm run operator -- offer` (and later retired after one job). */
let offered: { service: string; descriptor: ServiceDescriptor } | undefined

describe('the local stack', () => {
  beforeAll(async () => {
    config = {
      ...DEFAULTS,
      dataDir: await mkdtemp(join(tmpdir(), 'zkrunner-e2e-')),
      chainPort: await freePort(),
      workerPort: await freePort(),
      gitlabPort: await freePort(),
      githubPort: await freePort(),
      gatewayPort: await freePort(),
      pagePort: await freePort(),
    }
    stack = await startStack(config, log)
    userCreditsBefore = await readCredits(PublicKey.fromBase58(stack.keys.user.publicKey))
    runnerCreditsBefore = await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))
  })

  afterAll(async () => {
    await stack?.stop()
  })

  test('a paid job runs through the agent and reports a signed bundle', async () => {
    const job = await stack.requestJob(200_000, log)
    expect(job.status).toBe('success')
    expect(job.bundleCid).toMatch(/^baf/)
    expect(pipelinesOf(job.jobId)).toHaveLength(1)
    jobs.push(job)
  })

  test('GitLab answers 500 and creates nothing: the job is still triggered exactly once', async () => {
    const before = stack.gitlab.triggerRequests()
    stack.gitlab.setFaults({ trigger: [{ status: 500 }] })
    const job = await stack.requestJob(300_000, log)
    expect(stack.gitlab.triggerRequests() - before).toBeGreaterThanOrEqual(2)
    expect(pipelinesOf(job.jobId)).toHaveLength(1)
    expect(job.status).toBe('success')
    jobs.push(job)
  })

  test('GitLab refuses a job for quota: it is not charged, the service is off with that reason, and one probe switches it on again', async () => {
    const service = stack.deployment.service
    stack.gitlab.setFaults({ quota: 1 })
    const refused = await stack.requestJob(200_000, log)
    expect(refused.status).toBe('failed')
    expect(refused.bundleCid).toBeNull()
    const view = (await (await fetch(`${stack.urls.worker}/v1/jobs/${refused.jobId}`)).json()) as {
      charge: { state: string; reason?: string }
    }
    expect(view.charge).toEqual({ state: 'not-charged', amount: '0', reason: 'provider-quota' })
    const off = (await workerStatus(service)) as { providerQuota?: { probeAt: string } }
    expect(off.providerQuota?.probeAt).toBeDefined()
    // The stack's Worker waits QUOTA_PROBE_SECONDS (10 s), then lets one job through as the probe.
    await expect
      .poll(async () => (await workerStatus(service)).enabled, { timeout: 120_000, interval: 1000 })
      .toBe(true)
    const probe = await stack.requestJob(200_000, log)
    expect(probe.status).toBe('success')
    expect(probe.bundleCid).toMatch(/^baf/)
    const on = (await workerStatus(service)) as { enabled: boolean; providerQuota?: unknown }
    expect(on).toMatchObject({ enabled: true })
    expect(on.providerQuota).toBeUndefined()
    jobs.push(probe)
  })

  test('the agent is killed mid-job and resumed: the job still ends with a signed, pinned bundle', async () => {
    // The job holds before its last step and the agent is killed when it says so: no clock, so
    // the kill lands mid-job on a fast machine and on a loaded one alike.
    stack.faults.killAgentMidJob = true
    const from = lines.length
    const job = await stack.requestJob(1_000_000, log)
    const jobLines = lines.slice(from)
    const held = jobLines.findIndex((l) => l.includes(HOLD_MARKER))
    const kill = jobLines.findIndex((l) => l.includes('fault injected: killing the agent'))
    expect(held, 'the job reached its hold point').toBeGreaterThanOrEqual(0)
    expect(kill, 'the agent was killed after it').toBeGreaterThan(held)
    expect(job.bundleCid).toMatch(/^baf/)
    expect(pipelinesOf(job.jobId)).toHaveLength(1)
    // `resume` stopped the orphaned job and signed it as lost: its last step never ran.
    const reader = await createVerifiedReader([stack.urls.gateway])
    try {
      const text = async (path: string) =>
        new TextDecoder().decode(await reader.readPath(job.bundleCid!, path))
      const manifest = JSON.parse(await text('manifest.json')) as ResultManifest
      expect(manifest.signal).toBe('agent-lost')
      expect(await text('stdout.log')).not.toContain('primes up to')
    } finally {
      await reader.stop()
    }
    // A job its runner lost is not charged: the Worker released its price (the payable rule).
    const view = (await (await fetch(`${stack.urls.worker}/v1/jobs/${job.jobId}`)).json()) as {
      charge: { state: string; reason?: string }
    }
    expect(view.charge).toMatchObject({ state: 'not-charged', reason: 'agent-lost' })
    jobs.push(job)
    notCharged.push(job)
  })

  test('one settlement pays the runner exactly the price of every payable job, once', async () => {
    const service = PublicKey.fromBase58(stack.deployment.service)
    const user = PublicKey.fromBase58(stack.keys.user.publicKey)
    const paidBefore = await ledgerPaidOf(stack.deployment.service)
    await stack.settle(log)
    const price = BigInt(stack.descriptor.pricePerJob)
    const payable = BigInt(jobs.length - notCharged.length)
    // The ledger's batches pay the runner in payout receipts (runnerPaid); the settler then
    // redeems them for credits from the ledger's vault: credits move only at the redeem.
    const paid = await ledgerPaidOf(stack.deployment.service)
    expect(paid.runnerPaid - paidBefore.runnerPaid).toBe(price * payable)
    expect(paid.settledJobs - paidBefore.settledJobs).toBe(payable)
    const runnerCredits = await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))
    expect(runnerCredits - runnerCreditsBefore).toBe(price * payable)
    // Settling again pays nothing more.
    await stack.settle(log)
    expect(await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))).toBe(runnerCredits)
    expect((await ledgerPaidOf(stack.deployment.service)).runnerPaid).toBe(paid.runnerPaid)
    // Conservation: what left the user is the deposit, now in escrow or paid to the runner.
    const deposited = userCreditsBefore - (await readCredits(user))
    expect(deposited).toBe(await depositedOf(service, user))
    // The escrow also holds the page wallet's deposit, made at start.
    const pageDeposit = await depositedOf(
      service,
      PublicKey.fromBase58(stack.keys.pageUser.publicKey),
    )
    expect((await readEscrow(service)) + (runnerCredits - runnerCreditsBefore)).toBe(
      deposited + pageDeposit,
    )
  })

  test('every job verifies from the gateway and the chain, also after the gateway restarts', async () => {
    await stack.restartGateway()
    for (const job of jobs) {
      const links = await stack.verify(job, log)
      expect(links.filter((l) => l.status !== 'ok')).toEqual([])
      expect(allOk(links)).toBe(true)
    }
  })

  // Operators cannot take deposits, on the real path: the service the stack deployed through
  // Mina.Network, read back with the protocol's GraphQL query (the one the Worker and the page
  // send) and with the Node reader the deploy CLI's `status` uses, is genuine and frozen against
  // the compiled contracts; its registry entry is one the page lists (published by its own runner).
  test('the deployed service is genuine and frozen to every reader, and listed by its own runner', async () => {
    const { deployment } = stack
    const reader = new GraphqlChainReader(stack.urls.minaGraphql, stack.urls.archive)
    const accounts = await reader.serviceAccounts(deployment.service, deployment.creditTokenId)
    // The frozen verification key is read back as the object it is, with its version (o1js
    // 2.15's fetchAccount drops the version, which is why readers send the protocol's query).
    const frozen = { auth: 'Impossible', txnVersion: deployment.genuine.txnVersion }
    expect(accounts.service?.permissions?.setVerificationKey).toEqual(frozen)
    expect(accounts.ledgerVault?.permissions?.setVerificationKey).toEqual(frozen)
    expect(checkGenuineService(accounts, deployment.genuine)).toEqual({ genuine: true })

    const viaCli = await readServiceAccounts(
      PublicKey.fromBase58(deployment.service),
      stack.urls.minaGraphql,
    )
    expect(checkGenuineService(viaCli, deployment.genuine)).toEqual({ genuine: true })

    const poseidon = async (fields: bigint[]) =>
      Poseidon.hash(fields.map((f) => Field(f))).toBigInt()
    const runnerKeyHash = async (service: string) => {
      const state = await reader.zkappState(service)
      return state ? decodeServiceState(state).runnerKeyHash : null
    }
    const own = await ownListings(
      registryEntries(await reader.events(deployment.registry)),
      runnerKeyHash,
      poseidon,
    )
    expect(own.map((e) => e.service)).toContain(deployment.service)
    expect(await runnerKeyHash(deployment.service)).toBe(
      await poseidon(unwrap(publicKeyToFields(stack.keys.runner.publicKey))),
    )
  })

  test('GitHub Actions: a paid job is dispatched once, runs through the agent in the runner hooks and shell, settles and verifies every link; the page lists both services, buys a GitHub job and verifies every link of it', async () => {
    const github = stack.services.github
    const job = await stack.requestJob(200_000, log, 'github')
    expect(job.status).toBe('success')
    expect(job.bundleCid).toMatch(/^baf/)
    expect(job.service).toBe(github.service)
    // One dispatch, one run, on the GitHub stand-in only: nothing of it reached the GitLab service.
    const runs = stack.github.runs.filter((r) => r.inputs.ZKRUNNER_JOB_ID === job.jobId)
    expect(runs).toHaveLength(1)
    expect(runs[0]!.conclusion).toBe('success')
    expect(runs[0]!.inputs.ZKRUNNER_SERVICE).toBe(github.service)
    expect(runs[0]!.head_sha).toBe(github.descriptor.sourceCommitment)
    expect(pipelinesOf(job.jobId)).toHaveLength(0)
    const view = (await (await fetch(`${stack.urls.worker}/v1/jobs/${job.jobId}`)).json()) as {
      service: string
      pipeline: { id: number | string; webUrl: string | null } | null
    }
    expect(view.service).toBe(github.service)
    expect(String(view.pipeline?.id)).toBe(String(runs[0]!.id))
    expect(view.pipeline?.webUrl).toContain(stack.urls.github)
    // As root the job ran as the job user, through the signer the stack starts for the runner
    // (unless the checkout is closed to the job user: then the stack says so and runs it itself).
    if (stack.githubJobsThroughSigner) {
      const { manifest } = await readSealed(new Spool(stack.agentDataDir).bundleDir(job.jobId))
      expect(manifest.ran?.mode).toBe('signer')
    }

    await stack.settle(log)
    const links = await stack.verify(job, log)
    expect(links.filter((l) => l.status !== 'ok')).toEqual([])
    expect(allOk(links)).toBe(true)
    // The bundle does not verify as a result of the GitLab service.
    const crossed = await stack
      .verify({ ...job, service: stack.services.gitlab.service }, log)
      .catch(() => [])
    expect(allOk(crossed)).toBe(false)

    // The page's market reads both versions from the registry, each with its provider.
    const profile = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-chromium-'))
    const context = await launchChromium(profile)
    try {
      const { page, errors } = await openPage(context)
      for (const s of Object.values(stack.services)) {
        const row = page.locator(`tr[data-service="${s.service}"]`)
        await row.waitFor({ timeout: 60_000 })
        await expect.poll(() => row.textContent(), { timeout: 60_000 }).toContain(s.provider)
      }
      // The page's dev wallet buys a GitHub job (its deposit with the GitHub service was made at
      // start) and, once the runner settled it, verifies every link of it.
      const { cid, variables } = await requestOnPage(page, github.service, 300_000)
      expect(variables.ZKRUNNER_USER).toBe(stack.keys.pageUser.publicKey)
      expect(variables.LIMIT).toBe('300000')
      await stack.settle(log)
      expect(
        await verifyOnPage(page, {
          cid,
          service: github.service,
          jobId: variables.ZKRUNNER_JOB_ID!,
        }),
      ).toEqual(EVERY_LINK_OK)
      expect(errors).toEqual([])
    } finally {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    }
  })

  test('a private service: its job runs and verifies with the source "private (committed)", no public document, event, response or log names its coordinates, and its reveal makes that source link pass', async () => {
    const target = stack.privateService
    const { coordinates } = target
    const job = await stack.requestJob(200_000, log, target)
    expect(job.status).toBe('success')
    expect(job.bundleCid).toMatch(/^baf/)
    await stack.settle(log)
    const statusOf = (links: { id: string; status: string }[]) =>
      Object.fromEntries(links.map((l) => [l.id, l.status]))
    const before = await stack.verify(job)
    expect(statusOf(before)).toEqual({ ...EVERY_LINK_OK, source: 'pending' })
    expect(before.find((l) => l.id === 'source')?.detail).toMatch(/^private \(committed\)/)

    // Everything anyone can read about the service and its job, as text.
    const seen: string[] = []
    const reader = await createVerifiedReader([stack.urls.gateway])
    try {
      const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
      seen.push(text(await reader.readCid(target.descriptorCid)))
      const manifest = JSON.parse(
        text(await reader.readPath(job.bundleCid!, 'manifest.json')),
      ) as ResultManifest
      seen.push(JSON.stringify(manifest))
      for (const f of manifest.files) seen.push(text(await reader.readPath(job.bundleCid!, f.path)))
    } finally {
      await reader.stop()
    }
    const chain = new GraphqlChainReader(stack.urls.minaGraphql, stack.urls.archive)
    const json = (v: unknown) =>
      JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))
    seen.push(json(await chain.events(target.service)))
    seen.push(json(await chain.events(stack.deployment.registry)))
    seen.push(json(await chain.zkappState(target.service)))
    for (const path of [
      '/v1/services',
      `/v1/services/${target.service}`,
      `/v1/services/${target.service}/summary`,
      `/v1/jobs/${job.jobId}`,
    ]) {
      seen.push(await (await fetch(`${stack.urls.worker}${path}`)).text())
    }
    // The logs of everything but the GitLab stand-in itself (the provider knows its own project):
    // the Worker, the agent and its gateway, the job's output, the chain.
    seen.push(...lines.filter((l) => !l.startsWith('[gitlab]')))
    const everything = seen.join('\n')
    for (const secret of [coordinates.project, coordinates.salt, coordinates.commit]) {
      expect(everything.includes(secret), `${secret} appears in a public place`).toBe(false)
    }

    // The operator reveals: the opening goes public, and the source link of the old job passes.
    const dir = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-reveal-'))
    try {
      await writeOperatorAlias(dir)
      await writeFile(
        join(dir, 'opening.json'),
        JSON.stringify({ service: target.service, provider: 'gitlab', ...coordinates }),
      )
      const out: string[] = []
      const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) }
      // The reveal is pinned in the agent's IPFS store: one process opens it at a time.
      await stack.stopAgent()
      let code: number
      try {
        code = await deployCli(
          [
            'local',
            'reveal',
            '--config',
            join(dir, 'deploy.json'),
            '--opening',
            join(dir, 'opening.json'),
            '--runner-key',
            join(stack.agentDataDir, 'runner-key.json'),
            '--ipfs-dir',
            stack.agentDataDir,
          ],
          io,
        )
      } finally {
        await stack.startAgent()
      }
      expect(code, out.join('\n')).toBe(0)
      const after = await stack.verify(job)
      expect(statusOf(after)).toEqual(EVERY_LINK_OK)
      expect(after.find((l) => l.id === 'source')?.detail).toContain(coordinates.commit)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('a sponsored service: the pool pays 3 jobs (users pay nothing, each verifies), a user past the daily allowance and the 4th job are refused before anything is signed, the page shows the pool off, and the sponsor withdraws the remainder after the timelock with every credit accounted for', async () => {
    const target = stack.sponsoredService
    const service = PublicKey.fromBase58(target.service)
    const sponsorKey = PrivateKey.fromBase58(stack.keys.sponsor.privateKey)
    const sponsor = sponsorKey.toPublicKey()
    expect(target.pool.offered).toBe(true)
    if (!target.pool.offered) return
    const { grant } = target.pool
    const price = BigInt(target.descriptor.pricePerJob)
    expect(BigInt(grant.sponsorship.cap)).toBe(price * SPONSORED_POOL_JOBS)
    const poolBefore = await readUserChannel(service, sponsor)
    // The stack deposited more than the cap pays: the cap bounds the runner, the rest comes back.
    expect(poolBefore.deposited).toBe(price * (SPONSORED_POOL_JOBS + SPONSOR_SPARE_JOBS))
    const sponsorCreditsBefore = await readCredits(sponsor)

    /** A sponsored request as the page sends it, its answer read raw (status and error code). */
    const submitRaw = async (user: PrivateKey) => {
      const { envelope } = await buildSealedSponsoredRequest(
        {
          service: target.service,
          descriptor: target.descriptor,
          values: { LIMIT: 100_000 },
          sponsor: sponsor.toBase58(),
        },
        devKeyWallet(user.toBase58()),
      )
      const res = await fetch(`${stack.urls.worker}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(envelope),
      })
      return {
        status: res.status,
        body: (await res.json()) as { error?: { code: string; message: string } },
      }
    }

    // Alice runs her two jobs of the day, then is refused (the pool still pays one more); Bob
    // runs the third. Neither holds a credit or signs a voucher.
    const alice = PrivateKey.random()
    const bob = PrivateKey.random()
    const sponsoredJobs: StackJob[] = []
    for (const user of [alice, alice])
      sponsoredJobs.push(await stack.requestSponsoredJob(100_000, log, user))
    const pipelinesBefore = stack.gitlab.pipelines.length
    const overAllowance = await submitRaw(alice)
    expect(overAllowance.status).toBe(429)
    expect(overAllowance.body.error?.code).toBe('allowance_exceeded')
    sponsoredJobs.push(await stack.requestSponsoredJob(100_000, log, bob))
    for (const job of sponsoredJobs) {
      expect(job.status).toBe('success')
      expect(job.bundleCid).toMatch(/^baf/)
      expect(job.payer).toBe(sponsor.toBase58())
    }

    // The 4th job: refused funding-exhausted by the Worker, before any trigger, voucher or run.
    const fourth = await submitRaw(PrivateKey.random())
    expect(fourth.status).toBe(409)
    expect(fourth.body.error?.code).toBe('service_disabled')
    expect(fourth.body.error?.message).toContain('funding-exhausted')
    expect(stack.gitlab.pipelines.length).toBe(pipelinesBefore + 1)
    const pools = (
      (await (await fetch(`${stack.urls.worker}/v1/services/${target.service}`)).json()) as {
        sponsorships: { sponsor: string; enabled: boolean; reason?: string; jobsLeft: string }[]
      }
    ).sponsorships
    expect(pools).toEqual([
      expect.objectContaining({
        sponsor: sponsor.toBase58(),
        enabled: false,
        reason: 'funding-exhausted',
        jobsLeft: '0',
      }),
    ])

    // The page shows the pool off, with the reason, in the sponsored service's market row.
    const profile = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-chromium-'))
    const context = await launchChromium(profile)
    try {
      const { page, errors } = await openPage(context)
      const pool = page.locator(`#market tr[data-service="${target.service}"] .pool`)
      await pool.first().waitFor({ timeout: 120_000 })
      expect(await pool.first().getAttribute('class')).toContain('disabled')
      expect(await pool.first().textContent()).toContain('pool off: funding-exhausted')
      expect(errors).toEqual([])
    } finally {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    }

    // The runner settles the three jobs from the pool (one settlement, as for every job).
    const paidBefore = await ledgerPaidOf(target.service)
    await stack.settle(log)
    for (const job of sponsoredJobs) {
      const links = await stack.verify(job, log)
      expect(links.filter((l) => l.status !== 'ok')).toEqual([])
      expect(allOk(links)).toBe(true)
      // The users paid nothing: no channel of theirs in the service's ledger moved.
      expect(await readUserChannel(service, PublicKey.fromBase58(job.user))).toMatchObject({
        deposited: 0n,
        paidSoFar: 0n,
      })
    }
    const paid = await ledgerPaidOf(target.service)
    expect(paid.runnerPaid - paidBefore.runnerPaid).toBe(price * SPONSORED_POOL_JOBS)
    expect((await readUserChannel(service, sponsor)).paidSoFar).toBe(price * SPONSORED_POOL_JOBS)

    // The sponsor asks to withdraw, closing every voucher of its bundle; after the timelock it
    // withdraws, a batch grants the refund, and it pulls the remainder.
    const payer = {
      key: (
        await Lightnet.acquireKeyPair({
          isRegularAccount: true,
          lightnetAccountManagerEndpoint: stack.urls.accountManager,
        })
      ).privateKey,
    }
    const lastNonce = BigInt(grant.vouchers.at(-1)!.nonce)
    await (await requestWithdraw(payer, service, sponsorKey, lastNonce)).wait()
    await stack.advanceSlots(WITHDRAW_TIMELOCK_SLOTS + SLOT_WINDOW + 5)
    await (await withdraw(payer, service, sponsorKey)).wait()
    await processBatches(payer, service, PublicKey.fromBase58(stack.keys.runner.publicKey))
    await (await refund(payer, service, sponsorKey)).wait()
    const withdrawn = (await readCredits(sponsor)) - sponsorCreditsBefore
    expect(withdrawn).toBe(price * SPONSOR_SPARE_JOBS)
    // Conservation: what the sponsor deposited is what the pool paid the runner plus what it
    // withdrew; the ledger keeps nothing of it (nobody else deposited with this service).
    expect(paid.runnerPaid + withdrawn).toBe(poolBefore.deposited)
    expect(await readEscrow(service)).toBe(0n)
  })

  test('the page in Chromium lists the service, sends a sealed request, watches the job, and verifies every link once settled', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-chromium-'))
    const results = new URL('./test-results/', import.meta.url).pathname
    await mkdir(results, { recursive: true })
    const context = await launchChromium(profile)
    try {
      const { page, errors } = await openPage(context)
      const service = stack.deployment.service
      const { cid, variables } = await requestOnPage(page, service, 400_000)
      expect(variables.ZKRUNNER_USER).toBe(stack.keys.pageUser.publicKey)
      expect(variables.LIMIT).toBe('400000')

      // The runner settles the page user's job; then the page checks the whole chain again.
      await stack.settle(log)
      expect(await verifyOnPage(page, { cid, service, jobId: variables.ZKRUNNER_JOB_ID! })).toEqual(
        EVERY_LINK_OK,
      )
      await page.locator('#verify figure.plot canvas').first().waitFor({ timeout: 30_000 })
      await page.screenshot({ path: join(results, 'page-local-stack.png'), fullPage: true })
      expect(errors).toEqual([])
    } finally {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    }
  })

  test(
    'the page deposits into the ledger from its web worker, signed and sent through Auro',
    async () => {
      // The page's worker builds the deposit into the service's ledger; against the stack's chain,
      // which verifies no proofs, it sends a dummy proof (compiling the ledger in WebAssembly takes
      // over half an hour here; ZKRUNNER_CHAIN_PROOFS=true makes the page prove).
      const profile = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-chromium-'))
      const context = await launchChromium(profile)
      const service = PublicKey.fromBase58(stack.deployment.service)
      const pageUser = PublicKey.fromBase58(stack.keys.pageUser.publicKey)
      const auro = await installAuroStandIn(context, {
        privateKey: stack.keys.pageUser.privateKey,
        graphqlUrl: stack.urls.minaGraphql,
      })
      try {
        const { page, errors } = await openPage(context)
        const open = async () => {
          const row = page.locator(`tr[data-service="${stack.deployment.service}"]`)
          await row.waitFor({ timeout: 60_000 })
          await row.locator('button').click()
        }
        const depositThroughPage = async (amount: bigint) => {
          const before = await depositedOf(service, pageUser)
          await page.locator('input[name="amount"]').fill(String(amount))
          await page.getByRole('button', { name: 'Deposit credits' }).click()
          // Progress lines end in '…'; then the hash, or the error.
          const status = page.locator('[data-role="deposit-status"]')
          let shown = ''
          await expect
            .poll(
              async () => {
                const text = (await status.textContent()) ?? ''
                if (text !== shown) {
                  shown = text
                  log(`[page] deposit: ${text}`)
                }
                return /^$|…$/.test(text)
              },
              {
                timeout: 30 * 60_000,
                interval: 2000,
              },
            )
            .toBe(false)
          expect(await status.textContent()).toMatch(/^Deposit sent: \w+/)
          await expect
            .poll(() => depositedOf(service, pageUser), { timeout: 120_000, interval: 2000 })
            .toBe(before + amount)
        }

        // One deposit, through Auro (how a user pays); the dev key's deposit differs only in who
        // signs, and the stack deposits for it at start.
        expect(await page.locator('[data-role="wallet"]').textContent()).toMatch(/^Dev key/)
        await page.getByRole('button', { name: 'Connect Auro' }).click()
        await expect
          .poll(() => page.locator('[data-role="wallet"]').textContent(), { timeout: 30_000 })
          .toMatch(/^Auro/)
        await open()
        await depositThroughPage(20n)
        expect(auro.sent).toHaveLength(1)
        expect(errors).toEqual([])
      } finally {
        await context.close()
        await rm(profile, { recursive: true, force: true })
      }
    },
    60 * 60_000,
  )

  test('an operator offers a new version from a descriptor file, a user buys a job of it on the page, `retire` closes it, and the job still settles and verifies on the page', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-offer-'))
    const out: string[] = []
    const io = {
      out: (line: string) => {
        out.push(line)
        log(`[operator] ${line}`)
      },
      err: (line: string) => {
        out.push(line)
        log(`[operator] ${line}`)
      },
    }
    try {
      // The README's "Offer a service" files: a funded fee payer (the stack's deployer pays the
      // heartbeat duty; one payer per sender keeps nonces apart), an alias, credentials, and a
      // new descriptor (another name and price: a new version of the sample's job).
      const payer = await writeOperatorAlias(dir)
      const file = (name: string) => join(dir, name)
      const descriptor: ServiceDescriptor = {
        ...stack.descriptor,
        name: 'Count primes (offered by the e2e operator)',
        pricePerJob: '7',
      }
      await writeFile(file('service.json'), JSON.stringify(descriptor, null, 2))
      const secrets = JSON.parse(await readFile(join(config.dataDir, 'secrets.json'), 'utf8'))
      await writeFile(
        file('credentials.json'),
        JSON.stringify({
          triggerToken: secrets.triggerToken,
          apiToken: secrets.apiToken,
          webhookSecret: secrets.webhookSecret,
        }),
        { mode: 0o600 },
      )
      const runnerKey = join(stack.agentDataDir, 'runner-key.json')
      const common = ['--config', file('deploy.json'), '--runner-key', runnerKey]

      // `offer` opens the agent's IPFS store: the README has it run while the gateway is stopped.
      await stack.stopAgent()
      let code: number
      try {
        code = await operatorCli(
          [
            'offer',
            'local',
            file('service.json'),
            ...common,
            '--credentials',
            file('credentials.json'),
            '--worker',
            stack.urls.worker,
            '--ipfs-dir',
            stack.agentDataDir,
            '--page',
            stack.urls.page,
          ],
          io,
        )
      } finally {
        await stack.startAgent()
      }
      expect(code, out.join('\n')).toBe(0)
      const printed = out.map((l) => /^service (B62\w+), descriptor (\w+)$/.exec(l)).find(Boolean)
      expect(printed, out.join('\n')).toBeTruthy()
      const service = printed![1]!
      expect(service).not.toBe(stack.deployment.service)
      expect(await workerStatus(service)).toMatchObject({ enabled: true, retired: false })

      // A user buys a job of the new version on the page; it runs through the same agent. The
      // page's dev wallet is given its deposit here (proving one in the browser takes minutes;
      // the page's own deposit path has a test of its own above).
      const pageUser = PrivateKey.fromBase58(stack.keys.pageUser.privateKey)
      await (
        await deposit(
          { key: payer },
          PublicKey.fromBase58(service),
          pageUser,
          pageUser.toPublicKey(),
          21n,
        )
      ).wait()
      const profile = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-chromium-'))
      const context = await launchChromium(profile)
      try {
        const { page, errors } = await openPage(context)
        const bought = await requestOnPage(page, service, 200_000)
        expect(bought.variables.ZKRUNNER_USER).toBe(pageUser.toPublicKey().toBase58())
        const jobId = bought.variables.ZKRUNNER_JOB_ID!

        out.length = 0
        code = await operatorCli(
          ['retire', 'local', service, ...common, '--worker', stack.urls.worker],
          io,
        )
        expect(code, out.join('\n')).toBe(0)
        expect(await workerStatus(service)).toMatchObject({
          enabled: false,
          reason: 'retired',
          retired: true,
        })
        // A new request is refused before anything is signed over to the runner.
        await expect(stack.requestJob(200_000, log, { service, descriptor })).rejects.toMatchObject(
          { remoteCode: 'service_retired' },
        )

        // The job bought before the retirement still settles (at the frozen price) and verifies
        // on the page, every link.
        const creditsBefore = await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))
        const settledBefore = (await ledgerPaidOf(service)).settledJobs
        await stack.settle(log)
        expect((await ledgerPaidOf(service)).settledJobs - settledBefore).toBe(1n)
        expect(
          (await readCredits(PublicKey.fromBase58(stack.keys.runner.publicKey))) - creditsBefore,
        ).toBeGreaterThanOrEqual(7n)
        expect(await verifyOnPage(page, { cid: bought.cid, service, jobId })).toEqual(EVERY_LINK_OK)
        expect(errors).toEqual([])
        offered = { service, descriptor }
      } finally {
        await context.close()
        await rm(profile, { recursive: true, force: true })
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('"My services" in Chromium shows each version of the runner key with the figures the chain and the Worker hold', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-chromium-'))
    const context = await launchChromium(profile)
    try {
      const { page, errors } = await openPage(context)
      const sample = stack.deployment.service
      // The market lists the live sample; a retired version is not for sale.
      await page.locator(`#market tr[data-service="${sample}"]`).waitFor({ timeout: 60_000 })
      if (offered) {
        expect(await page.locator(`#market tr[data-service="${offered.service}"]`).count()).toBe(0)
      }

      // The page's own reader brackets the slot the page measured the heartbeat's age at.
      const reader = new GraphqlChainReader(stack.urls.minaGraphql, stack.urls.archive)
      const slotBefore = await reader.currentSlot()
      const form = page.locator('[data-role="operator-form"]')
      await form.locator('input[name="operator"]').fill(stack.keys.runner.publicKey)
      await form.locator('button[type="submit"]').click()
      const rowOf = (service: string) =>
        page.locator(`#operator table.operator-versions tr[data-service="${service}"]`)
      await rowOf(sample).waitFor({ timeout: 120_000 })
      const slotAfter = await reader.currentSlot()
      const cell = async (service: string, role: string) =>
        ((await rowOf(service).locator(`[data-role="${role}"]`).textContent()) ?? '').trim()

      const expectFigures = async (service: string) => {
        const state = await readServiceState(PublicKey.fromBase58(service))
        const summary = (await (
          await fetch(`${stack.urls.worker}/v1/services/${service}/summary`)
        ).json()) as {
          jobs: number
          charged: { jobs: number; amount: string }
          pending: { jobs: number; amount: string }
        }
        const { lastHeartbeatSlot } = state.heartbeat
        // Settled figures are the ledger's: what its batches paid the runner.
        const { settledJobs, runnerPaid } = await ledgerPaidOf(service)
        expect(await cell(service, 'settled')).toBe(String(settledJobs))
        expect(await cell(service, 'earnings')).toBe(`${runnerPaid} credits`)
        expect(await cell(service, 'jobs')).toBe(String(summary.jobs))
        expect(await cell(service, 'charged')).toBe(
          `${summary.charged.jobs} (${summary.charged.amount} credits)`,
        )
        expect(await cell(service, 'pending')).toBe(
          `${summary.pending.jobs} (${summary.pending.amount} credits)`,
        )
        const age = /^(\d+) slots$/.exec(await cell(service, 'heartbeat-age'))
        expect(age).toBeTruthy()
        expect(BigInt(age![1]!)).toBeGreaterThanOrEqual(slotBefore - lastHeartbeatSlot)
        expect(BigInt(age![1]!)).toBeLessThanOrEqual(slotAfter - lastHeartbeatSlot)
        return { settledJobs, summary }
      }

      expect(await rowOf(sample).getAttribute('data-state')).toBe('live')
      const figures = await expectFigures(sample)
      // Jobs ran and settled on this stack: the figures are not vacuous.
      expect(figures.summary.jobs).toBeGreaterThan(0)
      if (offered) {
        expect(await rowOf(offered.service).getAttribute('data-state')).toBe('retired')
        expect(await cell(offered.service, 'state')).toBe('Retired')
        const own = await expectFigures(offered.service)
        expect(own.settledJobs).toBe(1n)
        expect(await cell(offered.service, 'earnings')).toBe('7 credits')
      }
      expect(errors).toEqual([])
    } finally {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    }
  })

  test('a killed agent sends no more heartbeats: its version goes stale, the Worker refuses it and the page says so; restarted, its duty renews it unasked', async () => {
    const sample = stack.deployment.service
    const before = await workerStatus(sample)
    expect(before.enabled).toBe(true)
    const renewals = () => lines.filter((l) => l.startsWith(`heartbeat: ${sample} renewed`)).length
    await stack.stopAgent({ kill: true })
    const renewedWhileAlive = renewals()
    // The heartbeat ages past the Worker's allowed age without waiting an hour of slots.
    await stack.advanceSlots(Number(before.chain!.maxHeartbeatAgeSlots) + 1)
    await expect
      .poll(async () => (await workerStatus(sample)).reason, { timeout: 120_000, interval: 1000 })
      .toBe('stale-heartbeat')
    await expect(stack.requestJob(200_000, log)).rejects.toMatchObject({
      remoteCode: 'service_disabled',
      message: expect.stringContaining('stale-heartbeat'),
    })

    const profile = await mkdtemp(join(tmpdir(), 'zkrunner-e2e-chromium-'))
    const context = await launchChromium(profile)
    try {
      const { page } = await openPage(context)
      // The market judges liveness from the chain itself (the gateway died with the agent).
      const row = page.locator(`#market tr[data-service="${sample}"]`)
      await row.waitFor({ timeout: 60_000 })
      await expect
        .poll(() => row.textContent(), { timeout: 60_000 })
        .toContain('Disabled: runner heartbeat is stale')
      const form = page.locator('[data-role="operator-form"]')
      await form.locator('input[name="operator"]').fill(stack.keys.runner.publicKey)
      await form.locator('button[type="submit"]').click()
      const mine = page.locator(`#operator tr[data-service="${sample}"]`)
      await mine.waitFor({ timeout: 120_000 })
      expect(await mine.getAttribute('data-state')).toBe('disabled')
      expect(await mine.locator('[data-role="state"]').textContent()).toContain(
        'runner heartbeat is stale',
      )
    } finally {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    }
    // Nothing renewed it while the agent was dead.
    expect(renewals()).toBe(renewedWhileAlive)

    // The agent comes back: its duty's first round renews the stale heartbeat, no operator step.
    await stack.startAgent()
    await expect
      .poll(async () => (await workerStatus(sample)).enabled, { timeout: 600_000, interval: 2000 })
      .toBe(true)
    await expect.poll(renewals, { timeout: 30_000 }).toBe(renewedWhileAlive + 1)
  })
})

describe('npm start -- --once', () => {
  test('restarts over the same state and ends with every link of a job on each provider verified, exit 0', async () => {
    const args = [
      '--import',
      './scripts/swc-register.mjs',
      'stack/cli.ts',
      '--once',
      '--limit',
      '1000000',
    ]
    const env = {
      ...process.env,
      ZKRUNNER_STACK_DATA_DIR: config.dataDir,
      ZKRUNNER_STACK_CHAIN_PORT: String(config.chainPort),
      ZKRUNNER_STACK_WORKER_PORT: String(config.workerPort),
      ZKRUNNER_STACK_GITLAB_PORT: String(config.gitlabPort),
      ZKRUNNER_STACK_GITHUB_PORT: String(config.githubPort),
      ZKRUNNER_STACK_GATEWAY_PORT: String(config.gatewayPort),
      ZKRUNNER_STACK_PAGE_PORT: String(config.pagePort),
    }
    const out: string[] = []
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, args, {
        cwd: new URL('..', import.meta.url).pathname,
        env,
      })
      child.stdout.on('data', (b: Buffer) => out.push(b.toString()))
      child.stderr.on('data', (b: Buffer) => out.push(b.toString()))
      child.once('exit', resolve)
    })
    const text = out.join('')
    expect(text, text).toMatch(/GitLab sample job \w+: success, every link verified/)
    expect(text, text).toMatch(/GitHub sample job \w+: success, every link verified/)
    expect(text, text).toMatch(
      /Sponsored sample job \w+: success, every link verified; the pool paid \d+ credits, the user's channel did not move/,
    )
    expect(text).toContain('both providers and the sponsored service: every link verified')
    expect(code).toBe(0)
    // The saved chain already had the contracts: nothing was deployed again.
    expect(text).not.toContain('deploying the credit token')
  })
})

import './style.css'
import {
  checkGenuineService,
  holdsServiceState,
  isPublicKey as isMinaAddress,
  isPrivateService,
  ledgerPaid,
  nextVoucher,
  type ParameterValues,
  parseServiceDescriptor,
  type RequestBinding,
  type ServiceAccounts,
  type ServiceDescriptor,
  serviceAvailability,
  upgradeNotice,
} from '../../protocol/index.ts'
import {
  createVerifiedReader,
  DEFAULT_MAX_FILE_BYTES,
  type VerifiedReader,
} from '../../verify/gateway-reader.ts'
import {
  type ChainReader,
  contentVerified,
  decodeServiceState,
  GraphqlChainReader,
  graphqlQuery,
  ownListings,
  ranText,
  ranVouched,
  readSettlement,
  registryEntries,
  registryListings,
  revealsInRegistry,
  type Settlement,
  serviceReveal,
  settledResultsFrom,
  truncatedLogsText,
  type VerifyOutcome,
  type VerifyTarget,
  verifyResult,
} from '../../verify/index.ts'
import { loadConfig, type SiteConfig } from './config.ts'
import { marketDriverFacts, unlistedDriverFacts } from './drivers.ts'
import type { ChannelAction, ChannelReading } from './ledger-channel.ts'
import { type ChannelSources, readChannel } from './ledger-read.ts'
import { type OperatorVersion, operatorVersion } from './operator-view.ts'
import type { LedgerOp } from './prover/messages.ts'
import { createProver, type Prover } from './prover/prover-client.ts'
import { buildSealedRequest, workerKeyHashOf } from './request.ts'
import { parseSamples } from './samples.ts'
import {
  buildSealedSponsoredRequest,
  poolSummary,
  poolsOf,
  signGrantWithWallet,
} from './sponsorship.ts'
import { channelView } from './views/channel.ts'
import { h, messageOf, short } from './views/dom.ts'
import { innerJobsTree } from './views/inner-jobs.ts'
import { type RunProvider, renderJob } from './views/job-watch.ts'
import { renderLogs } from './views/log-viewer.ts'
import {
  depositBlockedBy,
  type PageUpgradeNotice,
  renderUpgradeNotice,
} from './views/network-upgrade.ts'
import { renderOperatorVersions } from './views/operator.ts'
import { outputsSection } from './views/outputs.ts'
import { renderPlot } from './views/plot.ts'
import { type DriverSource, renderRequestForm } from './views/request-form.ts'
import { type MarketService, privateSource, reasonText, renderMarket } from './views/services.ts'
import { unverifiedSection, verificationPanel } from './views/verification.ts'
import { confirmVoucher } from './views/voucher-confirm.ts'
import { auroProvider, connectAuro } from './wallet/auro.ts'
import { devKeyWallet } from './wallet/dev-key.ts'
import { statusQueryFor } from './wallet/status-query.ts'
import type { Wallet } from './wallet/wallet.ts'
import { fundingOf, TERMINAL_STATUSES, WorkerClient } from './worker-client.ts'
import { sendZkappCommand } from './zkapp-sender.ts'

/** Everything the views share: configuration and the three outside systems. */
interface App {
  config: SiteConfig
  chain: ChainReader
  worker: WorkerClient
  ipfs: VerifiedReader
  prover: Prover
  wallet: Wallet | null
  devPrivateKey: string | null
  /** What the node announces of a network upgrade, read with the market (`unknown`: it cannot say). */
  upgrade: PageUpgradeNotice
  /** The market as last loaded: where a `service` parameter's drivers are picked from. */
  market: readonly MarketService[]
}

const $ = (id: string) => document.getElementById(id)!
const decoder = new TextDecoder()
const POLL_MS = 1000

// The page remembers the nonce floor of the next voucher (per service and user). The leaves of a
// settled results root are not remembered: each settlement names its public leaves document.
const nonceKey = (service: string, user: string) => `zkrunner:nonce:${service}:${user}`
const signedKey = (service: string, user: string) => `zkrunner:signed:${service}:${user}`

/** This page's own record of the last voucher it signed for a service (junk reads as none). */
function ownRecord(service: string, user: string) {
  try {
    const { cumulativeAmount, nonce } = JSON.parse(
      localStorage.getItem(signedKey(service, user)) ?? '',
    )
    return { cumulativeAmount: BigInt(cumulativeAmount), nonce: BigInt(nonce) }
  } catch {
    return undefined
  }
}

/** The node's announced upgrade; `unknown` when it cannot say (no `runtimeConfig`, or no answer). */
async function readUpgrade(app: App): Promise<PageUpgradeNotice> {
  try {
    const [stop, slot] = await Promise.all([app.chain.stopSlots(), app.chain.currentSlot()])
    return upgradeNotice(stop, slot)
  } catch {
    return { kind: 'unknown' }
  }
}

/**
 * Why a genuine service's ledger is unsafe by the protocol's solvency check (its state written
 * before the freeze, or an escrow short of what it owes), or null when it is solvent. A ledger
 * whose figures cannot be read is shown unsafe too: the page offers no deposit it cannot check.
 */
async function solvencyUnsafe(
  app: App,
  ledger: string,
): Promise<{ code: string; reason: string } | null> {
  try {
    const solvency = await app.chain.ledgerSolvency(ledger, app.config.creditTokenId)
    return solvency.solvent ? null : solvency
  } catch (e) {
    return {
      code: 'SOLVENCY_UNCHECKED',
      reason: `the ledger's escrow could not be checked against what it owes: ${e instanceof Error ? e.message : 'the chain did not answer'}`,
    }
  }
}

async function loadMarket(app: App): Promise<MarketService[]> {
  const [events, currentSlot] = await Promise.all([
    app.chain.events(app.config.registryAddress),
    app.chain.currentSlot(),
  ])
  // Without the user's signed query the Worker shows no funding: the list still shows the rest.
  const query = app.wallet ? await statusQueryFor(app.wallet).catch(() => undefined) : undefined
  const reads = new Map<string, Promise<ServiceAccounts | null>>()
  const accountsOf = (service: string) => {
    let read = reads.get(service)
    if (!read) {
      read = app.chain.serviceAccounts(service, app.config.creditTokenId).catch(() => null)
      reads.set(service, read)
    }
    return read
  }
  // Only entries published by the service's own runner key: a stranger's publish or retire
  // changes nothing.
  const entries = await ownListings(
    registryEntries(events),
    async (service) => {
      const fields = (await accountsOf(service))?.service?.zkappState
      return holdsServiceState(fields) ? decodeServiceState(fields).runnerKeyHash : null
    },
    (fields) => app.prover.poseidon(fields),
  )
  return Promise.all(
    entries.map(async (entry): Promise<MarketService> => {
      const accounts = await accountsOf(entry.service)
      const fields = accounts?.service?.zkappState
      const chain = holdsServiceState(fields) ? decodeServiceState(fields) : null
      const verdict = accounts ? checkGenuineService(accounts, app.config.genuineCode) : null
      const unsafe =
        verdict && !verdict.genuine
          ? verdict
          : verdict && accounts?.ledgerAddress
            ? await solvencyUnsafe(app, accounts.ledgerAddress)
            : null
      let descriptor: ServiceDescriptor | null = null
      if (chain?.descriptorCid) {
        try {
          const bytes = await app.ipfs.readCid(chain.descriptorCid, {
            signal: AbortSignal.timeout(15_000),
          })
          const parsed = parseServiceDescriptor(JSON.parse(decoder.decode(bytes)))
          if (parsed.ok) descriptor = parsed.value
        } catch {
          // Shown as unavailable; the Worker's copy is not trusted in its place.
        }
      }
      // A private service's newest reveal, checked against its frozen commitment (verify's rule).
      const reveal =
        chain && descriptor && isPrivateService(descriptor)
          ? await serviceReveal(
              entry.service,
              chain.sourceCommitment,
              async () => entry.laterCids,
              app.ipfs,
              AbortSignal.timeout(15_000),
            )
          : null
      const status = await app.worker.service(entry.service, query).catch(() => null)
      // The runner's liveness is the chain's word, judged here by the protocol's rule before the
      // descriptor is: a dead runner (its gateway often down with it) reads as stale, not as an
      // unreadable descriptor.
      const local = chain
        ? serviceAvailability({
            heartbeat: chain.heartbeat,
            currentSlot,
            maxHeartbeatAgeSlots: BigInt(app.config.maxHeartbeatAgeSlots),
            genuine: !unsafe,
          })
        : null
      let disabledReason: string | null = null
      if (!chain) disabledReason = 'no-contract'
      else if (local && !local.enabled) disabledReason = local.reason
      else if (!descriptor) disabledReason = 'descriptor-unavailable'
      else if (status && !status.enabled) disabledReason = status.reason ?? 'unknown-service'
      else if (!status) disabledReason = 'worker-unavailable'
      return {
        address: entry.service,
        operator: entry.operator,
        chain,
        ...(chain
          ? ledgerPaid(accounts?.ledger?.zkappState, chain.terms.pricePerJob)
          : { settledJobs: null, runnerPaid: null }),
        reveal,
        descriptor,
        status,
        currentSlot,
        listedAt: entry.height,
        disabledReason,
        unsafe: unsafe
          ? {
              code: unsafe.code,
              reason: unsafe.reason,
              ...(verdict?.genuine ? { genuineLedger: true } : {}),
            }
          : null,
      }
    }),
  )
}

/**
 * Verifies a bundle and shows each link, then what the bundle says: the exit code, the plot and the
 * logs, from the checked bytes. Until the links that vouch for that content hold, it is shown
 * only inside a section labelled unverified.
 */
async function showVerification(app: App, root: HTMLElement, target: VerifyTarget): Promise<void> {
  const panel = verificationPanel()
  const extras = h('div')
  root.replaceChildren(panel.el, extras)
  let outcome: VerifyOutcome
  try {
    outcome = await verifyResult(
      target,
      {
        bundle: app.ipfs,
        chain: app.chain,
        genuine: { creditTokenId: app.config.creditTokenId, code: app.config.genuineCode },
        poseidon: (fields) => app.prover.poseidon(fields),
        settled: settledResultsFrom(app.ipfs, (owner, digests) =>
          app.prover.resultsRoot(owner, digests),
        ),
        reveals: (service) =>
          revealsInRegistry(app.chain, app.config.registryAddress, service, (fields) =>
            app.prover.poseidon(fields),
          ),
      },
      panel.update,
    )
  } catch (e) {
    // verifyResult reports its own failures as links; this is the last guard against "Verifying…".
    panel.fail(messageOf(e))
    return
  }
  panel.finish(outcome.links)
  // A higher-order result: the driver jobs it used, each with its own links, as a tree.
  const tree = innerJobsTree(outcome.inner)
  if (tree) extras.append(tree)
  const m = outcome.manifest
  if (!m) return
  const content: HTMLElement[] = [
    h(
      'p',
      { 'data-role': 'result-summary' },
      `Exit code ${m.exitCode ?? m.signal} · wall ${(m.wallMs / 1000).toFixed(1)} s · CPU ${(m.cpuMs / 1000).toFixed(1)} s · peak RSS ${(m.peakRssBytes / 1048576).toFixed(1)} MiB`,
    ),
  ]
  // Part of the signed manifest: shown only when the manifest and its signature hold (else
  // anyone could have written it), escaped so it is read, never acted on.
  const vouched = ranVouched(outcome.links)
  const ran = vouched ? ranText(m) : null
  if (ran) content.push(h('p', { 'data-role': 'result-ran' }, ran))
  // A log the runner cut at its cap: the signed manifest says how much of it is missing.
  const truncated = vouched ? truncatedLogsText(m) : null
  if (truncated) content.push(h('p', { 'data-role': 'result-truncated-logs' }, truncated))
  if (outcome.outputs) content.push(outputsSection(outcome.outputs))
  const samples = outcome.files.get(m.sampling.samplesPath)
  if (samples) content.push(renderPlot(parseSamples(decoder.decode(samples))))
  const logs = new Map<string, string>()
  for (const [path, bytes] of outcome.files) {
    if (path.endsWith('.log')) logs.set(path, decoder.decode(bytes))
  }
  if (logs.size > 0) content.push(renderLogs(logs))
  if (contentVerified(outcome.links)) extras.append(...content)
  else extras.append(unverifiedSection(content))
}

async function watchJob(
  app: App,
  request: RequestBinding,
  provider: RunProvider,
  root: HTMLElement,
  /** The sponsor whose pool pays a sponsored job: its settled leaf is in the pool's channel. */
  payer?: string,
) {
  const statusBox = h('div', { 'data-role': 'job' })
  const verifyBox = h('div')
  root.replaceChildren(statusBox, verifyBox)
  let verified = false
  for (;;) {
    try {
      // The page follows its own request id; whatever else a Worker answers is not this job.
      const job = await app.worker.job(request.requestId)
      if (job.jobId !== request.requestId)
        throw new Error(`the Worker answered job ${job.jobId} for request ${request.requestId}`)
      renderJob(statusBox, job, provider)
      // The runner's report can arrive before GitLab's last webhook: verify at once, and keep
      // following the status until the job is finished.
      if (job.result && !verified) {
        verified = true
        await showVerification(app, verifyBox, {
          bundleCid: job.result.bundleCid,
          service: request.service,
          request,
          ...(payer ? { payer } : {}),
        })
      }
      if (verified && TERMINAL_STATUSES.has(job.status)) return
      // A failed job may still report a bundle (its logs): keep polling a little after the end.
      if (TERMINAL_STATUSES.has(job.status) && Date.now() - Date.parse(job.updatedAt) > 60_000)
        return
    } catch (e) {
      statusBox.append(h('p', { class: 'error' }, messageOf(e)))
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

/** The market's services and any other address as drivers, read for protocol's driver rule. */
function driverSource(app: App): DriverSource {
  const maxAge = BigInt(app.config.maxHeartbeatAgeSlots)
  return {
    candidates: app.market.map((s) => ({
      address: s.address,
      name: s.descriptor?.name ?? '(descriptor unavailable)',
      facts: marketDriverFacts(s, maxAge),
    })),
    factsOf: async (address) => {
      const listed = app.market.find((s) => s.address === address)
      if (listed) return marketDriverFacts(listed, maxAge)
      const [fields, slot] = await Promise.all([
        app.chain.zkappState(address),
        app.chain.currentSlot(),
      ])
      return unlistedDriverFacts(holdsServiceState(fields) ? fields : null, slot, maxAge)
    },
  }
}

/** The wallet's channel in a service's ledger, read from the chain, with its ledger actions. */
function userChannel(app: App, service: string, d: ServiceDescriptor) {
  return channelView({
    read: async () => {
      if (!app.wallet) throw new Error('connect a wallet to see your channel')
      return readChannel(channelSources(app), service, app.wallet.publicKey)
    },
    send: (action, reading, progress) =>
      sendLedgerOp(app, service, ledgerOpOf(action, reading, service, d), progress),
  })
}

function openService(app: App, s: MarketService): void {
  const root = $('service')
  const d = s.descriptor
  if (s.unsafe) {
    // No deposit and no request: the service key could take what is paid in. A genuine ledger
    // whose money does not add up (or cannot be checked now) still holds the user's channel:
    // withdrawing and pulling a refund stay open, first come, first served.
    const unsafe = s.unsafe
    const channel = unsafe.genuineLedger && d ? userChannel(app, s.address, d) : null
    root.replaceChildren(
      h('p', { class: 'badge bad', role: 'alert' }, `Unsafe: ${unsafe.reason}`),
      h('p', { class: 'muted' }, `(${unsafe.code}) ${s.address}`),
      channel ? channel.el : '',
    )
    if (channel) void channel.refresh()
    return
  }
  if (!d || !s.chain) {
    root.replaceChildren(
      h('p', { class: 'error' }, `Unavailable: ${reasonText(s.disabledReason ?? '')}`),
    )
    return
  }
  // What settlement charges is the contract's price, whatever the descriptor advertises.
  const price = s.chain.terms.pricePerJob
  const jobBox = h('div', { class: 'job' })
  const amountBox = h('div', { class: 'voucher' })
  const depositStatus = h('p', { 'aria-live': 'polite', 'data-role': 'deposit-status' })
  const amount = h('input', {
    type: 'number',
    min: 1,
    value: Number(s.chain.terms.pricePerJob) * 4,
    name: 'amount',
  })
  const depositButton = h('button', { type: 'button' }, 'Deposit credits')
  const terms = s.chain.terms
  const upgradeBlock = depositBlockedBy(app.upgrade, terms)
  if (upgradeBlock) {
    depositButton.disabled = true
    depositStatus.textContent = upgradeBlock
  }
  depositButton.addEventListener('click', async () => {
    // Read again at the click: the dialog may have stayed open while an upgrade was announced.
    const blocked = depositBlockedBy(await readUpgrade(app), terms)
    if (blocked) {
      depositStatus.textContent = blocked
      return
    }
    const progress = (m: string) => {
      depositStatus.textContent = m
    }
    depositButton.disabled = true
    try {
      const hash = await sendLedgerOp(
        app,
        s.address,
        { op: 'deposit', amount: BigInt(amount.value).toString() },
        progress,
      )
      depositStatus.textContent = `Deposit sent: ${hash}`
      void channel.refresh()
    } catch (e) {
      depositStatus.textContent = messageOf(e)
    } finally {
      depositButton.disabled = upgradeBlock !== null
    }
  })
  const channel = userChannel(app, s.address, d)
  // A sponsor's pool may pay instead of the user's deposit: no voucher is signed then, only the
  // request (the Worker admits it within the pool and the user's daily allowance).
  const pools = poolsOf(s.status).filter((p) => p.enabled)
  const payWith = h(
    'select',
    { name: 'pay-with' },
    h('option', { value: '' }, 'my deposit (sign a voucher)'),
    ...pools.map((p) => h('option', { value: p.sponsor }, poolSummary(p))),
  )
  const submit = async (values: ParameterValues) => {
    if (!app.wallet) throw new Error('connect a wallet first')
    if (payWith.value) {
      const frozen = s.chain?.workerKeyHash
      const hash = await workerKeyHashOf(d.workerPublicKey, (f) => app.prover.poseidon(f))
      if (frozen === undefined || hash !== frozen) {
        throw new Error("the descriptor's Worker key is not the one the service contract froze")
      }
      const { envelope, binding } = await buildSealedSponsoredRequest(
        { service: s.address, descriptor: d, values, sponsor: payWith.value },
        app.wallet,
      )
      await app.worker.submit(envelope)
      void watchJob(app, binding, d, jobBox, payWith.value)
      return
    }
    const user = app.wallet.publicKey
    // Never the Worker's bare `owed`: the user's own latest voucher (checked with their key for
    // this service), this page's record or the amount settled on chain, plus one price
    // (protocol's rule). The Worker's answer is read as untrusted JSON.
    const [funding, settlement] = await Promise.all([
      app.worker.service(s.address, await statusQueryFor(app.wallet)).then(fundingOf),
      readSettlement(app.chain, s.address, user).then(
        (settled): Settlement | null | string => settled,
        () => 'not readable now (counting 0, which only lowers what is signed)',
      ),
    ])
    const settled = settlement !== null && typeof settlement === 'object' ? settlement : undefined
    const next = nextVoucher({
      user,
      service: s.address,
      price,
      reported: funding.voucher,
      reportedOwed: funding.owed,
      ownRecord: ownRecord(s.address, user),
      settled: settled?.cumulativeAmount ?? 0n,
      settledNonce: settled?.nonce,
    })
    const lastNonce = BigInt(localStorage.getItem(nonceKey(s.address, user)) ?? '0')
    // Seal only to the Worker key the contract froze, not merely the one the descriptor names.
    const frozen = s.chain?.workerKeyHash
    const hash = await workerKeyHashOf(d.workerPublicKey, (f) => app.prover.poseidon(f))
    if (frozen === undefined || hash !== frozen) {
      throw new Error("the descriptor's Worker key is not the one the service contract froze")
    }
    const confirmed = await confirmVoucher(amountBox, next, {
      price,
      reportedOwed: funding.owed,
      settled: typeof settlement === 'string' ? settlement : (settled?.cumulativeAmount ?? 0n),
      released: funding.released,
    })
    if (!confirmed) throw new Error('Nothing signed: you cancelled the voucher.')
    const { envelope, submission, binding } = await buildSealedRequest(
      {
        service: s.address,
        descriptor: d,
        values,
        owed: next.provenOwed,
        price,
        lastNonce: lastNonce > next.nonce - 1n ? lastNonce : next.nonce - 1n,
      },
      app.wallet,
    )
    localStorage.setItem(nonceKey(s.address, user), submission.voucher.nonce)
    await app.worker.submit(envelope)
    // Recorded once the Worker accepted it: a refused voucher proves nothing owed.
    localStorage.setItem(
      signedKey(s.address, user),
      JSON.stringify({
        cumulativeAmount: submission.voucher.cumulativeAmount,
        nonce: submission.voucher.nonce,
      }),
    )
    void watchJob(app, binding, d, jobBox)
  }
  root.replaceChildren(
    h('h2', {}, d.name),
    h('p', {}, d.description),
    h(
      'dl',
      {},
      h('dt', {}, 'Service contract'),
      h('dd', {}, h('code', {}, s.address)),
      h('dt', {}, 'Pipeline'),
      isPrivateService(d)
        ? h(
            'dd',
            {},
            h('span', { class: 'badge private' }, 'private code'),
            ' source committed: ',
            h('code', {}, d.sourceCommitment),
            h('br'),
            privateSource(s, d, d.sourceCommitment),
          )
        : h('dd', {}, `${d.project} @ ${d.ref}, job ${d.job}`),
      h('dt', {}, 'Runner key'),
      h('dd', {}, h('code', {}, d.runnerPublicKey)),
      d.outputs?.length ? h('dt', {}, 'Outputs') : null,
      d.outputs?.length
        ? h(
            'dd',
            { 'data-role': 'declared-outputs' },
            d.outputs
              .map(
                (o) =>
                  `${o.name} (${o.type}${o.required ? '' : ', optional'})${o.description ? `: ${o.description}` : ''}`,
              )
              .join('; '),
          )
        : null,
    ),
    s.disabledReason
      ? h('p', { class: 'badge bad', role: 'status' }, `Disabled: ${reasonText(s.disabledReason)}`)
      : '',
    BigInt(d.pricePerJob) !== price
      ? h(
          'p',
          { class: 'badge warn', 'data-role': 'price-mismatch' },
          `The descriptor advertises ${d.pricePerJob} credits per job; the contract charges ${price}.`,
        )
      : '',
    h('h3', {}, 'Deposit'),
    h('p', { class: 'muted' }, 'Proving runs in a web worker and takes a few minutes.'),
    h('div', { class: 'controls' }, h('label', {}, 'Amount ', amount), depositButton),
    depositStatus,
    channel.el,
    sponsorForm(app, s.address, price, s.currentSlot),
    h('h3', {}, 'Request a job'),
    pools.length > 0
      ? h('p', { class: 'controls', 'data-role': 'pay-with' }, h('label', {}, 'Pay with ', payWith))
      : '',
    renderRequestForm(d, price, submit, driverSource(app)),
    amountBox,
    jobBox,
  )
  root.scrollIntoView({ block: 'start' })
  void channel.refresh()
}

/**
 * "Sponsor this service": the wallet's own channel is the pool (fund it with the deposit above);
 * the wallet signs the sponsorship and its pool vouchers here, and the page offers them to the
 * Worker. No key leaves the wallet: the vouchers only pay this service's runner for results.
 */
function sponsorForm(app: App, service: string, price: bigint, currentSlot: bigint): HTMLElement {
  const perDay = h('input', { type: 'number', min: 1, value: 3, name: 'jobs-per-day' })
  const days = h('input', { type: 'number', min: 1, value: 30, name: 'days' })
  const cap = h('input', { type: 'number', min: 1, value: Number(price) * 10, name: 'cap' })
  const status = h('p', { 'aria-live': 'polite', 'data-role': 'sponsor-status' })
  const button = h('button', { type: 'button', name: 'sponsor' }, 'Sign and offer the sponsorship')
  button.addEventListener('click', async () => {
    if (!app.wallet) {
      status.textContent = 'connect a wallet first'
      return
    }
    button.disabled = true
    try {
      // 480 slots a day (3-minute slots). Nonces from the clock, as the page's vouchers: above
      // any voucher this wallet signed for its channel before.
      const grant = await signGrantWithWallet(
        {
          service,
          price,
          jobsPerUserPerDay: Number(perDay.value),
          endSlot: currentSlot + BigInt(days.value) * 480n,
          cap: BigInt(cap.value),
          firstNonce: BigInt(Date.now()),
        },
        app.wallet,
      )
      // The bundle's last nonce joins this wallet's record for the service: the channel panel's
      // withdrawal request closes at or above it, so no voucher of the bundle outlives the
      // withdrawal (a later deposit could otherwise still be claimed with one).
      const key = nonceKey(service, app.wallet.publicKey)
      const last = BigInt(grant.vouchers.at(-1)!.nonce)
      if (last > BigInt(localStorage.getItem(key) ?? '0')) localStorage.setItem(key, String(last))
      const offered = await app.worker.sponsor(service, grant)
      status.textContent = `Sponsorship offered: ${offered.vouchers} pool vouchers.`
    } catch (e) {
      status.textContent = messageOf(e)
    } finally {
      button.disabled = false
    }
  })
  return h(
    'details',
    { class: 'sponsor', 'data-role': 'sponsor' },
    h('summary', {}, 'Sponsor this service'),
    h(
      'p',
      { class: 'muted' },
      'Your channel is the pool: deposit into it above first. Users then run jobs free within the limits you sign; what is left comes back through the withdrawal.',
    ),
    h(
      'div',
      { class: 'controls' },
      h('label', {}, 'Jobs per user per day ', perDay),
      h('label', {}, 'Days ', days),
      h('label', {}, 'Cap (credits) ', cap),
      button,
    ),
    status,
  )
}

/** The chain as the channel reader asks it: the node trusted for state, the archive checked. */
function channelSources(app: App): ChannelSources {
  return {
    node: (document) => graphqlQuery(app.config.minaGraphqlUrl, document),
    archive: (document) => graphqlQuery(app.config.archiveUrl, document),
    serviceState: (service) => app.chain.zkappState(service),
    balance: (owner, tokenId) => app.chain.balance(owner, tokenId),
    currentSlot: () => app.chain.currentSlot(),
  }
}

const MEMO: Record<LedgerOp['op'], string> = {
  deposit: 'zkrunner deposit',
  'request-withdraw': 'zkrunner withdrawal request',
  withdraw: 'zkrunner withdrawal',
  'process-batch': 'zkrunner ledger batch',
  refund: 'zkrunner refund',
}

/**
 * Proves one ledger transaction for the wallet's user and sends it: the dev key's is signed in
 * the prover and sent to the node by the page; Auro signs and sends its own.
 */
async function sendLedgerOp(
  app: App,
  service: string,
  op: LedgerOp,
  progress: (m: string) => void,
): Promise<string> {
  const wallet = app.wallet
  if (!wallet || (!app.devPrivateKey && !wallet.sendTransaction))
    throw new Error('Connect Auro to sign ledger transactions.')
  const command = await app.prover.ledger(
    op,
    service,
    wallet.publicKey,
    app.devPrivateKey,
    progress,
  )
  if (app.devPrivateKey) {
    progress('Sending…')
    return sendZkappCommand(app.config.minaGraphqlUrl, command)
  }
  progress('Waiting for Auro to sign and send…')
  return wallet.sendTransaction!(command, MEMO[op.op])
}

/**
 * The ledger transaction a channel button sends. A withdrawal request closes the channel for
 * every voucher up to the highest nonce this user signed that the page knows of (this browser's
 * record, the channel's own): none of them settles after the withdrawal, and this browser's next
 * voucher is numbered above it.
 */
function ledgerOpOf(
  action: ChannelAction,
  reading: ChannelReading,
  service: string,
  d: ServiceDescriptor,
): LedgerOp {
  switch (action) {
    case 'request-withdraw': {
      const user = reading.user
      const local = BigInt(localStorage.getItem(nonceKey(service, user)) ?? '0')
      const signed = ownRecord(service, user)?.nonce ?? 0n
      const closeNonce = [local, signed, reading.all.voucherNonce].reduce((a, b) => (a > b ? a : b))
      localStorage.setItem(nonceKey(service, user), closeNonce.toString())
      return { op: 'request-withdraw', closeNonce: closeNonce.toString() }
    }
    case 'withdraw':
      return { op: 'withdraw' }
    case 'process-batch':
      // Anyone may apply the pending actions: the contract checks this key against its frozen
      // runner key hash, and needs nothing from the runner itself.
      return { op: 'process-batch', runner: d.runnerPublicKey }
    case 'refund':
      return { op: 'refund' }
  }
}

function renderWallet(app: App, onChange: () => void): void {
  const bar = $('wallet')
  const provider = auroProvider()
  bar.replaceChildren(
    app.wallet
      ? h(
          'span',
          { class: app.wallet.isDevKey ? 'badge warn' : 'badge good', 'data-role': 'wallet' },
          `${app.wallet.label}: ${short(app.wallet.publicKey)}`,
        )
      : h('span', { class: 'muted' }, 'No wallet'),
    ' ',
    provider && !app.wallet?.label.startsWith('Auro')
      ? h(
          'button',
          {
            type: 'button',
            onclick: async () => {
              try {
                app.wallet = await connectAuro(provider)
                app.devPrivateKey = null
                renderWallet(app, onChange)
                onChange()
              } catch (e) {
                bar.append(h('span', { class: 'error' }, messageOf(e)))
              }
            },
          },
          'Connect Auro',
        )
      : '',
  )
}

const MAX_FILE_KEY = 'zkrunner:max-file-mib'

/** The per-file limit of bundle reads in MiB: 64 unless the user raised (or lowered) it here. */
function maxFileMiB(): number {
  const mib = Number(localStorage.getItem(MAX_FILE_KEY))
  return Number.isInteger(mib) && mib >= 1 && mib <= 4096 ? mib : DEFAULT_MAX_FILE_BYTES / 2 ** 20
}

/** The descriptor named on chain, read from IPFS and checked against its CID (null if unavailable). */
async function descriptorOf(app: App, cid: string | null): Promise<ServiceDescriptor | null> {
  if (!cid) return null
  try {
    const bytes = await app.ipfs.readCid(cid, { signal: AbortSignal.timeout(15_000) })
    const parsed = parseServiceDescriptor(JSON.parse(decoder.decode(bytes)))
    return parsed.ok ? parsed.value : null
  } catch {
    return null
  }
}

/** Every version `operator` listed, retired ones too, from the chain, the Worker and IPFS alone. */
async function loadOperatorVersions(app: App, operator: string): Promise<OperatorVersion[]> {
  const [events, currentSlot] = await Promise.all([
    app.chain.events(app.config.registryAddress),
    app.chain.currentSlot(),
  ])
  return Promise.all(
    registryListings(events)
      .filter((l) => l.operator === operator)
      .map(async (l) => {
        // Both accounts: the service's state, and its ledger's (runnerPaid: what was settled).
        const accounts = await app.chain
          .serviceAccounts(l.service, app.config.creditTokenId)
          .catch(() => null)
        const fields = accounts?.service?.zkappState
        const chain = holdsServiceState(fields) ? decodeServiceState(fields) : null
        const [descriptor, status, summary] = await Promise.all([
          descriptorOf(app, chain?.descriptorCid ?? null),
          app.worker.service(l.service).catch(() => null),
          app.worker.summary(l.service).catch(() => null),
        ])
        return operatorVersion({
          service: l.service,
          name: descriptor?.name ?? null,
          retiredInRegistry: l.retired,
          chain,
          ledgerState: accounts?.ledger?.zkappState ?? null,
          currentSlot,
          maxHeartbeatAgeSlots: BigInt(app.config.maxHeartbeatAgeSlots),
          status,
          summary,
        })
      }),
  )
}

function renderOperatorView(app: App): void {
  const out = h('div', { 'data-role': 'operator-versions' })
  const form = h(
    'form',
    { 'aria-label': 'My services', 'data-role': 'operator-form' },
    h(
      'label',
      {},
      'Runner (operator) key ',
      h('input', { name: 'operator', required: true, size: 56, placeholder: 'B62…' }),
    ),
    h('button', { type: 'submit' }, 'Show'),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const operator = String(new FormData(form).get('operator') ?? '').trim()
    if (!isMinaAddress(operator)) {
      out.replaceChildren(h('p', { class: 'error' }, 'not a Mina address'))
      return
    }
    out.replaceChildren(h('p', { role: 'status' }, 'Loading…'))
    loadOperatorVersions(app, operator).then(
      (versions) => renderOperatorVersions(out, operator, versions),
      (err) => out.replaceChildren(h('p', { class: 'error' }, messageOf(err))),
    )
  })
  $('operator').replaceChildren(h('h2', {}, 'My services'), form, out)
}

function renderVerifyAny(app: App): void {
  const out = h('div')
  const form = h(
    'form',
    { 'aria-label': 'Verify a result', 'data-role': 'verify-form' },
    h('label', {}, 'Bundle CID ', h('input', { name: 'cid', required: true, size: 64 })),
    h('label', {}, 'Service address ', h('input', { name: 'service', required: true, size: 56 })),
    h('label', {}, 'Job id (optional) ', h('input', { name: 'job', size: 34 })),
    h(
      'label',
      {},
      'Max MiB per file ',
      h('input', {
        name: 'max-file-mib',
        type: 'number',
        min: '1',
        max: '4096',
        value: String(maxFileMiB()),
        size: 6,
      }),
    ),
    h('button', { type: 'submit' }, 'Verify'),
  )
  form.querySelector('input[name="max-file-mib"]')?.addEventListener('change', (e) => {
    const mib = Number((e.target as HTMLInputElement).value)
    if (Number.isInteger(mib) && mib >= 1 && mib <= 4096)
      localStorage.setItem(MAX_FILE_KEY, String(mib))
  })
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const data = new FormData(form)
    const jobId = String(data.get('job') ?? '').trim()
    void showVerification(app, out, {
      bundleCid: String(data.get('cid')).trim(),
      service: String(data.get('service')).trim(),
      ...(jobId ? { jobId } : {}),
    })
  })
  $('verify').replaceChildren(h('h2', {}, 'Verify any result'), form, out)
}

async function main(): Promise<void> {
  const status = $('status')
  try {
    const config = await loadConfig()
    const dev = config.devKey ? devKeyWallet(config.devKey) : null
    const app: App = {
      config,
      chain: new GraphqlChainReader(config.minaGraphqlUrl, config.archiveUrl),
      worker: new WorkerClient(config.workerUrl),
      ipfs: await createVerifiedReader(config.gateways, {
        maxFileBytes: () => maxFileMiB() * 2 ** 20,
      }),
      prover: createProver(config),
      wallet: dev,
      devPrivateKey: dev?.privateKey ?? null,
      upgrade: { kind: 'none' },
      market: [],
    }
    const refresh = async () => {
      status.textContent = 'Loading services…'
      try {
        const [services, upgrade] = await Promise.all([loadMarket(app), readUpgrade(app)])
        app.upgrade = upgrade
        app.market = services
        renderUpgradeNotice($('network'), upgrade)
        renderMarket($('market'), services, (s) => openService(app, s))
        status.textContent = ''
      } catch (e) {
        status.textContent = messageOf(e)
      }
    }
    renderWallet(app, refresh)
    renderVerifyAny(app)
    renderOperatorView(app)
    await refresh()
    document.body.dataset.ready = 'true'
  } catch (e) {
    status.textContent = messageOf(e)
    status.className = 'error'
  }
}

void main()

import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  LedgerState,
  newRequestId,
  signVoucher,
  verifySponsoredSubmission,
  verifySponsorshipGrant,
  verifyVoucher,
} from '../../protocol/index.ts'
import { computeResultsRoot } from '../../verify/results-root.ts'
import { PRIVATE_OPENING } from '../../verify/test-support/bundle-fixture.ts'
import { isProverWorkerScript } from '../headers.ts'
import { launchChromium } from './support/chromium.ts'
import {
  buildPage,
  SPONSOR_RUN_DRY,
  SPONSOR_WITH_JOBS,
  type Stack,
  startStack,
} from './support/stack.ts'

// The whole page in Debian's Chromium against loopback doubles that speak the real protocols:
// a trustless gateway, the Worker's JSON API with HPKE, and Mina/archive GraphQL.

const RESULTS = new URL('../test-results/', import.meta.url).pathname

let stack: Stack
let context: BrowserContext
let page: Page
let pageDir: string
let profile: string
const consoleErrors: string[] = []
/** The Content-Security-Policy of every response, by path: the document's and the worker's. */
const policies = new Map<string, string>()

beforeAll(async () => {
  pageDir = await buildPage()
  stack = await startStack({ pageDir, settledRoot: computeResultsRoot })
  profile = await mkdtemp(join(tmpdir(), 'zkrunner-site-chromium-'))
  context = await launchChromium(profile)
  page = context.pages()[0] ?? (await context.newPage())
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text())
  })
  page.on('pageerror', (e) => consoleErrors.push(e.message))
  // Responses of the dedicated workers too (the prover's script carries its own policy).
  context.on('response', (r) =>
    policies.set(new URL(r.url()).pathname, r.headers()['content-security-policy'] ?? ''),
  )
  await mkdir(RESULTS, { recursive: true })
}, 150_000)

afterAll(async () => {
  await context?.close()
  await stack?.close()
  await rm(pageDir, { recursive: true, force: true })
  await rm(profile, { recursive: true, force: true })
})

async function verifyByCid(
  cid: string,
  jobId: string,
  service = stack.service.address,
): Promise<Record<string, string>> {
  const form = page.locator('[data-role="verify-form"]')
  await form.locator('input[name="cid"]').fill(cid)
  await form.locator('input[name="service"]').fill(service)
  await form.locator('input[name="job"]').fill(jobId)
  await form.locator('button[type="submit"]').click()
  const summary = page.locator('#verify [data-role="verify-summary"][data-result]')
  await summary.waitFor({ timeout: 30_000 })
  return Object.fromEntries(
    await page
      .locator('#verify ol.links li')
      .evaluateAll((lis) =>
        lis.map((li) => [li.getAttribute('data-link'), li.getAttribute('data-status')]),
      ),
  )
}

describe('the page in Chromium', () => {
  it('lists the services as a market, with a disabled one saying why', async () => {
    await page.goto(stack.pageUrl)
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true)
    const rows = page.locator('table.market tbody tr')
    await expect.poll(() => rows.count()).toBe(4)
    // Sorted by price: the cheaper (stale) service first.
    expect(await rows.nth(0).getAttribute('data-service')).toBe(stack.staleService.address)
    const stale = page.locator(`tr[data-service="${stack.staleService.address}"]`)
    expect(await stale.textContent()).toContain('heartbeat is stale')
    const good = page.locator(`tr[data-service="${stack.service.address}"]`)
    expect(await good.textContent()).toContain('5 credits')
    expect(await good.textContent()).toContain('Available')
    // Its sponsors' pools: what each can still pay, or why it pays nothing.
    const pools = good.locator('div.pool')
    expect(await pools.count()).toBe(2)
    expect(await pools.nth(0).textContent()).toContain(
      `Sponsored by ${SPONSOR_WITH_JOBS.slice(0, 10)}…: 2 free jobs left (10 credits)`,
    )
    expect(await pools.nth(1).textContent()).toContain(
      `Sponsored by ${SPONSOR_RUN_DRY.slice(0, 10)}…: pool off: funding-exhausted`,
    )
    expect(await pools.nth(1).getAttribute('class')).toContain('disabled')
    // A stranger's publish and retire of this service changed nothing: listed under its runner.
    expect(await good.locator(`code[title="${stack.service.runner.publicKey}"]`).count()).toBe(1)
    expect(await good.locator('a[href*="/-/commit/"]').getAttribute('href')).toContain(
      stack.service.sourceCommitment,
    )
    await page.locator('select').first().selectOption('name')
    expect(await rows.nth(0).getAttribute('data-service')).toBe(stack.staleService.address)
    await page.locator('input[name="max-price"]').fill('4')
    await expect.poll(() => rows.count()).toBe(1)
    await page.locator('input[name="max-price"]').fill('')
  })

  // Operators cannot take deposits: a service whose ledger has no LedgerVault is Unsafe, with no deposit.
  it('marks a service whose escrow is not its vault as Unsafe and offers no deposit', async () => {
    const unsafe = page.locator(`tr[data-service="${stack.unsafeService.address}"]`)
    expect(await unsafe.textContent()).toContain('Unsafe: no LedgerVault holds the escrow')
    await unsafe.locator('button').click()
    await expect.poll(() => page.locator('#service').textContent()).toContain('Unsafe:')
    expect(await page.locator('#service button', { hasText: 'Deposit credits' }).count()).toBe(0)
    expect(await page.locator('#service form.request').count()).toBe(0)
  })

  it('requests a job with a sealed envelope, watches it complete and verifies every link', async () => {
    await page.locator(`tr[data-service="${stack.service.address}"] button`).click()
    const form = page.locator('form.request')
    await form.locator('select[name="SUITE"]').selectOption('integration')
    // Invalid first: the page refuses before signing or sending anything.
    await form.locator('input[name="REPEAT"]').fill('9')
    await form.locator('button[type="submit"]').click()
    await expect
      .poll(() => form.locator('[data-role="form-error"]').textContent())
      .toContain('at most 5')
    expect(stack.worker.received).toHaveLength(0)
    await form.locator('input[name="REPEAT"]').fill('2')
    await form.locator('button[type="submit"]').click()
    // The voucher's terms are shown first; nothing is signed before the user confirms.
    await page.locator('[data-role="voucher-confirm-button"]').click()

    await expect.poll(() => stack.worker.received.length, { timeout: 15_000 }).toBe(1)
    const { submission, envelope } = stack.worker.received[0]!
    expect(envelope.kid).toBe(stack.worker.keys.kid)
    expect(submission.request.parameters).toEqual({
      SUITE: 'integration',
      REPEAT: 2,
      VERBOSE: false,
    })
    expect(submission.request.service).toBe(stack.service.address)
    expect(submission.voucher.cumulativeAmount).toBe('5')
    expect(verifyVoucher(submission.voucher).ok).toBe(true)

    const status = page.locator('[data-role="job-status"]')
    await page.locator('[data-role="job-status"][data-phase="done"]').waitFor({ timeout: 30_000 })
    expect(await status.textContent()).toBe('done')
    expect(await page.locator('[data-role="pipeline-link"]').getAttribute('href')).toContain(
      '/pipelines/4242',
    )
    const summary = page.locator('#service [data-role="verify-summary"][data-result]')
    await summary.waitFor({ timeout: 120_000 })
    const links = Object.fromEntries(
      await page
        .locator('#service ol.links li')
        .evaluateAll((lis) =>
          lis.map((li) => [li.getAttribute('data-link'), li.getAttribute('data-status')]),
        ),
    )
    expect(links).toEqual({
      bundle: 'ok',
      manifest: 'ok',
      files: 'ok',
      signature: 'ok',
      runner: 'ok',
      service: 'ok',
      source: 'ok',
      settled: 'ok',
      inner: 'ok',
    })
    expect(await summary.getAttribute('data-result')).toBe('ok')
    // Every link holds, so the content is shown as checked, not under the unverified label.
    expect(await page.locator('#service [data-role="unverified"]').count()).toBe(0)
    expect(await page.locator('#service [data-role="result-summary"]').textContent()).toContain(
      'Exit code 0',
    )
    // The outputs the service declares are listed with it; the result's, from the signed
    // manifest, with their digest.
    expect(await page.locator('#service [data-role="declared-outputs"]').textContent()).toBe(
      'tests (integer); passed (boolean); summary (string, optional)',
    )
    const outputs = page.locator('#service [data-role="outputs"]')
    expect(await outputs.locator('[data-role="outputs-status"]').getAttribute('data-valid')).toBe(
      'true',
    )
    expect(
      await outputs
        .locator('tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent))),
    ).toEqual([
      ['tests', 'integer', '25'],
      ['passed', 'boolean', 'true'],
      ['summary', 'string', 'all tests passed'],
    ])
    expect(await outputs.locator('[data-role="outputs-declaration"]').textContent()).toContain(
      'as the service descriptor on chain declares',
    )
    expect(await outputs.locator('[data-role="outputs-digest"] code').textContent()).toMatch(
      /^\d{10,}$/,
    )
    await page.locator('figure.plot canvas').first().waitFor({ timeout: 10_000 })
    await page.locator('input[name="log-search"]').fill('test case 7')
    await expect.poll(() => page.locator('[data-role="log"] mark').count()).toBe(1)
    await page.locator('#service').screenshot({ path: join(RESULTS, 'page-verified.png') })
  }, 170_000)

  it("the document cannot eval a string; only the prover worker's script (which proved the settled link above) may", async () => {
    const logged = consoleErrors.length
    // Run from a task of the page's own (Playwright's evaluate itself is exempt from the CSP).
    const attempts = await page.evaluate(
      () =>
        new Promise<Record<string, string>>((resolve) =>
          setTimeout(() => {
            const tried = (f: () => unknown) => {
              try {
                f()
                return 'ran'
              } catch (e) {
                return (e as Error).name
              }
            }
            resolve({
              // biome-ignore lint/security/noGlobalEval: the attack this test shows CSP blocks
              eval: tried(() => eval('document.body.dataset.evaluated = "yes"')),
              function: tried(() => new Function('document.body.dataset.evaluated = "yes"')()),
            })
          }, 0),
        ),
    )
    expect(attempts).toEqual({ eval: 'EvalError', function: 'EvalError' })
    // The browser reports each refusal; they are this test's, not errors of the page.
    const refusals = consoleErrors.splice(logged)
    for (const r of refusals) expect(r).toMatch(/unsafe-eval/)
    expect(await page.evaluate(() => document.body.dataset.evaluated)).toBeUndefined()
    expect(policies.get('/')).toMatch(/script-src 'self' 'wasm-unsafe-eval' blob:/)
    expect(policies.get('/')).not.toContain("'unsafe-eval'")
    // The worker that proved the settled link ran under its own policy, the only one with eval.
    const built = (await readdir(join(pageDir, 'assets'))).filter((f) =>
      isProverWorkerScript(`/assets/${f}`),
    )
    expect(built).toHaveLength(1)
    expect(policies.get(`/assets/${built[0]}`)).toContain("'unsafe-eval'")
    for (const [path, policy] of policies)
      if (path !== `/assets/${built[0]}` && policy)
        expect(policy, path).not.toContain("'unsafe-eval'")
  })

  it('verifies the settled job by CID with no memory of having requested it', async () => {
    const job = stack.completed.at(-1)!
    // Nothing this browser remembers is needed: the leaves come from the chain and the gateway.
    await page.evaluate(() => localStorage.clear())
    await page.reload()
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
    const links = await verifyByCid(job.bundleCid, job.jobId)
    expect(links.settled).toBe('ok')
    expect(await page.locator('#verify [data-link="settled"]').textContent()).toContain('leaf 0')
  }, 120_000)

  it('refuses another user’s genuine job that a dishonest Worker hands back for my request', async () => {
    await page.locator(`tr[data-service="${stack.service.address}"] button`).click()
    const theirs = await stack.anotherUsersJob()
    stack.worker.handBack = theirs
    const before = stack.worker.received.length
    await page.locator('form.request button[type="submit"]').click()
    await page.locator('[data-role="voucher-confirm-button"]').click()
    await expect.poll(() => stack.worker.received.length, { timeout: 15_000 }).toBe(before + 1)
    // The Worker answers for the page's own request id, with the other user's bundle.
    await expect
      .poll(() => page.locator('#service [data-role="bundle-cid"]').textContent(), {
        timeout: 30_000,
      })
      .toBe(theirs.bundleCid)
    const summary = page.locator('#service [data-role="verify-summary"][data-result]')
    await summary.waitFor({ timeout: 60_000 })
    expect(await summary.getAttribute('data-result')).toBe('broken')
    expect(await page.locator('#service [data-link="manifest"]').getAttribute('data-status')).toBe(
      'broken',
    )
    // Another user's job has its own request id; were it run under mine, its user would differ.
    expect(await page.locator('#service [data-link="manifest"]').textContent()).toMatch(
      /is for (job|user)/,
    )
    // Its exit code, plot and logs are shown only under the unverified label.
    const unverified = page.locator('#service [data-role="unverified"]')
    expect(await unverified.textContent()).toContain('Unverified')
    expect(await unverified.locator('[data-role="result-summary"]').count()).toBe(1)
    expect(await page.locator('#service [data-role="result-summary"]').count()).toBe(1)
    await page.locator('#service').screenshot({ path: join(RESULTS, 'page-handed-back.png') })
  }, 120_000)

  it.each([
    ['tampered-file', 'files'],
    ['wrong-signature', 'signature'],
    ['wrong-source', 'source'],
    ['duplicate-key', 'manifest'],
    ['lone-surrogate', 'manifest'],
  ] as const)('names the broken link for a %s bundle', async (variant, broken) => {
    const jobId = newRequestId()
    const cid = await stack.addBundle(variant, jobId)
    const links = await verifyByCid(cid, jobId)
    expect(
      Object.entries(links)
        .filter(([, s]) => s === 'broken')
        .map(([id]) => id),
    ).toEqual([broken])
    expect(await page.locator('#verify [data-role="verify-summary"]').textContent()).toContain(
      'Broken link',
    )
    // Content whose chain to the runner is broken is never shown as checked.
    expect(await page.locator('#verify [data-role="result-summary"]').count()).toBe(
      await page.locator('#verify [data-role="unverified"] [data-role="result-summary"]').count(),
    )
    if (broken === 'files' || broken === 'signature' || broken === 'source')
      expect(await page.locator('#verify [data-role="unverified"]').textContent()).toContain(
        'Unverified',
      )
    await page.locator('#verify').screenshot({ path: join(RESULTS, `page-${variant}.png`) })
  })

  it('shows the inner jobs of a higher-order result as a tree, each link checked', async () => {
    const nested = await stack.addNestedBundle('good')
    const links = await verifyByCid(nested.cid, nested.jobId, stack.higherOrder.address)
    expect(links.inner).toBe('ok')
    const item = page.locator(
      `#verify [data-role="inner-jobs"] [data-inner-job="${nested.innerJobId}"]`,
    )
    expect(await item.getAttribute('data-status')).toBe('ok')
    expect(await item.locator('[data-link="files"]').getAttribute('data-status')).toBe('ok')
    expect(await item.textContent()).toContain(stack.service.address)
    await page.locator('#verify').screenshot({ path: join(RESULTS, 'page-nested.png') })
  })

  it('names the inner job and its broken link when an inner bundle was tampered with', async () => {
    const nested = await stack.addNestedBundle('tampered-file')
    const links = await verifyByCid(nested.cid, nested.jobId, stack.higherOrder.address)
    expect(
      Object.entries(links)
        .filter(([, s]) => s === 'broken')
        .map(([id]) => id),
    ).toEqual(['inner'])
    expect(await page.locator('#verify ol.links [data-link="inner"]').textContent()).toContain(
      `inner job ${nested.innerJobId} of ${stack.service.address}: link "files" broken`,
    )
    const item = page.locator(`#verify [data-inner-job="${nested.innerJobId}"]`)
    expect(await item.getAttribute('data-status')).toBe('broken')
    expect(await item.locator('[data-link="files"]').getAttribute('data-status')).toBe('broken')
    // The outer content is not shown as checked while an inner job it used does not hold.
    expect(await page.locator('#verify [data-role="unverified"]').count()).toBe(1)
  })

  it('refuses a bundle CID with a path at the bundle link', async () => {
    const jobId = newRequestId()
    const cid = await stack.addBundle('good', jobId)
    const links = await verifyByCid(`${cid}/stdout.log`, jobId)
    expect(links.bundle).toBe('broken')
    expect(Object.values(links).filter((s) => s === 'ok')).toEqual([])
  })

  it('never renders a javascript: pipeline link as an href (the edge accepts only what it should)', async () => {
    stack.worker.pipelineUrl = 'javascript:document.body.dataset.pwned="yes"'
    const before = stack.worker.received.length
    await page.locator(`tr[data-service="${stack.service.address}"] button`).click()
    const form = page.locator('form.request')
    await form.locator('select[name="SUITE"]').selectOption('integration')
    await form.locator('input[name="REPEAT"]').fill('1')
    await form.locator('button[type="submit"]').click()
    await page.locator('[data-role="voucher-confirm-button"]').click()
    await expect.poll(() => stack.worker.received.length, { timeout: 15_000 }).toBe(before + 1)
    await page.locator('[data-role="job-status"][data-phase="done"]').waitFor({ timeout: 30_000 })
    expect(await page.locator('[data-role="job"]').textContent()).toContain('pipeline #4242')
    expect(await page.locator('[data-role="pipeline-link"]').count()).toBe(0)
    expect(await page.locator('a[href^="javascript:" i]').count()).toBe(0)
    expect(await page.evaluate(() => document.body.dataset.pwned)).toBeUndefined()
    stack.worker.pipelineUrl = 'http://127.0.0.1:1/zkrunner/demo/-/pipelines/4242'
  }, 120_000)

  describe('signs only what it can prove plus one price, whatever the Worker reports', () => {
    /** Opens the request form from a fresh page load and asks for a job, up to the confirm step. */
    const askForJob = async () => {
      await page.reload()
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
      await page.locator(`tr[data-service="${stack.service.address}"] button`).click()
      const form = page.locator('form.request')
      await form.locator('select[name="SUITE"]').selectOption('integration')
      await form.locator('input[name="REPEAT"]').fill('1')
      await form.locator('button[type="submit"]').click()
      await page.locator('[data-role="voucher-confirm-button"]').waitFor({ timeout: 15_000 })
    }
    const text = (role: string) => page.locator(`[data-role="${role}"]`).textContent()
    /** A voucher the page's own user signed for the sample service. */
    const userVoucher = (cumulativeAmount: string, nonce: string) =>
      signVoucher(
        {
          v: 1,
          user: stack.user.publicKey,
          service: stack.service.address,
          cumulativeAmount,
          nonce,
        },
        stack.user.privateKey,
      )
    /**
     * What the runner's claims have settled on chain for the page's user so far: the double's
     * runner claims each completed job with its voucher, so the newest voucher it received.
     */
    const settledSoFar = () =>
      stack.worker.received
        .map((r) => r.submission)
        .filter((s) => s.request.user === stack.user.publicKey)
        .filter((s) => s.request.service === stack.service.address)
        .reduce((max, s) => {
          const amount = BigInt(s.voucher.cumulativeAmount)
          return amount > max ? amount : max
        }, 0n)

    /** Requests one job, confirming the voucher; answers what the page signed and what it said. */
    const requestOnce = async () => {
      const before = stack.worker.received.length
      await askForJob()
      // Nothing is signed or sent before the user confirms, and both numbers are on screen.
      expect(stack.worker.received.length).toBe(before)
      const terms = {
        proven: await text('proven-owed'),
        reported: await text('reported-owed'),
        settled: await text('settled-owed'),
        amount: await text('new-voucher-amount'),
      }
      const warning = page.locator('[data-role="voucher-warning"]')
      const shown = {
        shown: await text('voucher-amount'),
        warning: (await warning.count()) > 0 ? await warning.textContent() : null,
      }
      await page.locator('[data-role="voucher-confirm-button"]').click()
      await expect.poll(() => stack.worker.received.length, { timeout: 15_000 }).toBe(before + 1)
      const voucher = stack.worker.received.at(-1)!.submission.voucher
      expect(terms.amount).toBe(voucher.cumulativeAmount)
      return { voucher, terms, ...shown }
    }

    it('signs nothing when the user cancels at the confirm step', async () => {
      stack.setFunding({ owed: '1000' })
      const before = stack.worker.received.length
      await askForJob()
      await page.locator('[data-role="voucher-cancel"]').click()
      expect(await page.locator('form.request').textContent()).toContain('Nothing signed')
      expect(stack.worker.received.length).toBe(before)
    }, 120_000)

    it('an inflated owed with a forged voucher: signs the price over what it proves, and says why', async () => {
      await page.evaluate(() => localStorage.clear())
      const forger = generateMinaKeyPair()
      const forged = {
        ...signVoucher(
          {
            v: 1,
            user: forger.publicKey,
            service: stack.service.address,
            cumulativeAmount: '1000',
            nonce: '99',
          },
          forger.privateKey,
        ),
        user: stack.user.publicKey,
      }
      stack.setFunding({ owed: '1000', voucher: forged })
      const settled = settledSoFar()
      expect(settled).toBeGreaterThan(0n)
      const { voucher, shown, warning, terms } = await requestOnce()
      // This browser's record is gone: the floor is the voucher of the runner's latest claim the
      // ledger applied (the jobs above), plus one price.
      expect(voucher.cumulativeAmount).toBe(String(settled + 5n))
      expect(shown).toContain(`Signing ${settled + 5n} credits in all: ${settled} proven owed + 5`)
      expect(terms.proven).toContain('settled on chain')
      expect(terms.reported).toContain('1000')
      expect(terms.settled).toBe(String(settled))
      expect(warning).toContain('not signed by your key')
    }, 120_000)

    it('an inflated owed with no voucher: its own record of what it signed, plus one price', async () => {
      stack.setFunding({ owed: '1000' })
      // What this browser signed last (the job above), which the runner has also settled: the
      // page's own record wins a tie with the settled amount.
      const signedLast = settledSoFar()
      const { voucher, warning, terms } = await requestOnce()
      expect(voucher.cumulativeAmount).toBe(String(signedLast + 5n))
      expect(terms.proven).toContain('what this browser signed last')
      expect(warning).toContain('no voucher')
    }, 120_000)

    it('an honest voucher: what it proves, plus one price, and nothing to warn about', async () => {
      const honest = userVoucher('40', '7')
      stack.setFunding({ owed: '40', voucher: honest })
      const { voucher, shown, warning } = await requestOnce()
      expect(voucher.cumulativeAmount).toBe('45')
      expect(BigInt(voucher.nonce)).toBeGreaterThan(7n)
      expect(shown).toContain('40 proven owed + 5')
      expect(warning).toBeNull()
      expect(await page.locator('[data-role="released-jobs"]').count()).toBe(0)
      stack.setFunding(null)
    }, 120_000)

    it('a job the Worker released: its lower figure is signed, and the page names the job and why', async () => {
      const honest = userVoucher('40', '7')
      const lost = 'ab'.repeat(16)
      stack.setFunding({
        owed: '35',
        voucher: honest,
        released: [
          { jobId: lost, amount: '5', reason: 'agent-lost' },
          // Markup from a Worker is text, and a malformed entry is not shown at all.
          { jobId: '<b id=injected>x</b>', amount: '5', reason: 'agent-lost' },
        ],
      })
      const before = stack.worker.received.length
      await askForJob()
      const released = page.locator('[data-role="released-jobs"] li')
      expect(await released.count()).toBe(1)
      expect(await released.first().getAttribute('data-job')).toBe(lost)
      expect(await released.first().textContent()).toBe(
        `job ${lost}: 5 credits not owed, the runner lost the job before it ended`,
      )
      expect(await page.locator('#injected').count()).toBe(0)
      expect(await text('proven-owed')).toContain('jobs it released as not charged')
      await page.locator('[data-role="voucher-confirm-button"]').click()
      await expect.poll(() => stack.worker.received.length, { timeout: 15_000 }).toBe(before + 1)
      expect(stack.worker.received.at(-1)!.submission.voucher.cumulativeAmount).toBe('40')
      stack.setFunding(null)
    }, 120_000)
  })

  // After a hard fork a frozen service's key holder could replace its code, so the page warns as
  // soon as the node announces one, and takes no deposit that could not come back before it.
  it('warns of an announced network upgrade and takes no deposit that could not come back before it', async () => {
    const open = async () => {
      await page.goto(stack.pageUrl)
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
      await page.locator(`tr[data-service="${stack.service.address}"] button`).click()
      await page.locator('#service button', { hasText: 'Deposit credits' }).waitFor()
    }
    const banner = page.locator('[data-role="network-upgrade"]')
    const deposit = page.locator('#service button', { hasText: 'Deposit credits' })
    try {
      // Far off (the service's timelock is 100 slots): warned, and a deposit still comes back.
      stack.setSlotTxEnd(stack.slot + 1_000n)
      await open()
      expect(await banner.textContent()).toContain(
        `transactions stop at slot ${stack.slot + 1_000n}, 1000 slots from now`,
      )
      expect(await deposit.isDisabled()).toBe(false)

      // Sooner than request + timelock + withdrawal: no deposit, and the page says why.
      stack.setSlotTxEnd(stack.slot + 50n)
      await open()
      expect(await banner.textContent()).toContain('withdraw your deposits before slot')
      expect(await deposit.isDisabled()).toBe(true)
      expect(await page.locator('[data-role="deposit-status"]').textContent()).toMatch(
        /No deposit: a network upgrade stops transactions at slot \d+, sooner than a withdrawal/,
      )

      // Past it: transactions stopped.
      stack.setSlotTxEnd(stack.slot)
      await open()
      expect(await banner.textContent()).toMatch(/^Transactions stopped at slot/)
      expect(await deposit.isDisabled()).toBe(true)
      // Announced while the dialog stays open: the click reads again and deposits nothing.
      stack.setSlotTxEnd(null)
      await open()
      expect(await deposit.isDisabled()).toBe(false)
      stack.setSlotTxEnd(stack.slot + 50n)
      await deposit.click()
      await expect
        .poll(() => page.locator('[data-role="deposit-status"]').textContent())
        .toMatch(/^No deposit: a network upgrade stops transactions/)

      // A node that cannot say is not taken as "no upgrade": the page says it does not know.
      stack.setSlotTxEnd('unanswered')
      await open()
      expect(await banner.count()).toBe(0)
      expect(await page.locator('[data-role="network-upgrade-unknown"]').textContent()).toContain(
        'does not say whether a network upgrade is planned',
      )
    } finally {
      stack.setSlotTxEnd(null)
    }
    await open()
    expect(await banner.count()).toBe(0)
    expect(await page.locator('[data-role="network-upgrade-unknown"]').count()).toBe(0)
    expect(await deposit.isDisabled()).toBe(false)
  })

  // A genuine, frozen service whose ledger says it paid its runner what no batch paid (a state
  // written before the freeze): the solvency check shows it Unsafe, with no deposit and no request.
  it('marks a service whose ledger money does not add up as Unsafe and offers no deposit', async () => {
    try {
      stack.forgeLedgerField(stack.service.address, LedgerState.runnerPaid, 1500n)
      await page.goto(stack.pageUrl)
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
      const row = page.locator(`tr[data-service="${stack.service.address}"]`)
      expect(await row.textContent()).toContain('Unsafe: the ledger says it paid the runner 1500')
      await row.locator('button').click()
      await expect.poll(() => page.locator('#service').textContent()).toContain('Unsafe:')
      expect(await page.locator('#service button', { hasText: 'Deposit credits' }).count()).toBe(0)
      expect(await page.locator('#service form.request').count()).toBe(0)
    } finally {
      stack.forgeLedgerField(stack.service.address, LedgerState.runnerPaid, null)
    }
  })

  // A higher-order service's DRIVER is another service: the page offers the market's services
  // that pass protocol's driver rule, and checks any typed address by the same rule before sealing.
  it('offers the matching drivers in a picker and refuses any other with the rule’s reason, sealing nothing', async () => {
    await page.goto(stack.pageUrl)
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
    await page.locator(`tr[data-service="${stack.higherOrder.address}"] button`).click()
    const form = page.locator('form.request')
    const picker = form.locator('[data-role="driver-picker"]')
    const address = form.locator('input[name="DRIVER"]')
    const error = form.locator('[data-role="form-error"]')
    // Of the market, only `service` declares SUITE (enum) and a required `tests` (integer): the
    // stale one has no outputs and is stale, the unsafe one is not registered, and the
    // higher-order one itself declares no SUITE.
    expect(
      await picker
        .locator('option')
        .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)),
    ).toEqual(['', stack.service.address])
    const before = stack.worker.received.length
    const refusedWith = async (value: string, reason: string | RegExp) => {
      await address.fill(value)
      await form.locator('button[type="submit"]').click()
      await expect.poll(() => error.textContent()).toMatch(reason)
      expect(await page.locator('[data-role="voucher-confirm-button"]').count()).toBe(0)
      expect(stack.worker.received.length).toBe(before)
    }
    await refusedWith(
      stack.staleService.address,
      /DRIVER: unavailable: .* takes no job now \(stale-heartbeat\): runner heartbeat is stale/,
    )
    await refusedWith(stack.unsafeService.address, /not-registered/)
    await refusedWith(stack.higherOrder.address, /interface-mismatch: .*parameter SUITE \(enum\)/)
    await refusedWith(
      generateMinaKeyPair().publicKey,
      /unknown-service: .* is not a service contract/,
    )
    await refusedWith('B62-not-an-address', /must be a service contract address/)

    // Picking fills the address; the request is sealed with it, at the higher-order service's price.
    await picker.selectOption(stack.service.address)
    expect(await address.inputValue()).toBe(stack.service.address)
    await form.locator('button[type="submit"]').click()
    await page.locator('[data-role="voucher-confirm-button"]').click()
    await expect.poll(() => stack.worker.received.length, { timeout: 15_000 }).toBe(before + 1)
    const { submission } = stack.worker.received.at(-1)!
    expect(submission.request.service).toBe(stack.higherOrder.address)
    expect(submission.request.parameters).toEqual({ DRIVER: stack.service.address })
    await page.locator('[data-role="job-status"][data-phase="done"]').waitFor({ timeout: 30_000 })
  }, 120_000)

  // A private service: listed and paid for like any other, its source a commitment until the
  // operator reveals it; then the page checks the opening itself, and names a wrong one.
  it('runs a private service without its coordinates, then checks its reveal against the commitment', async () => {
    const priv = await stack.addPrivateService()
    await page.goto(stack.pageUrl)
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
    const row = page.locator(`tr[data-service="${priv.address}"]`)
    await row.waitFor()
    expect(await row.locator('.badge.private').textContent()).toBe('private code')
    expect(await row.locator('.source-private').textContent()).toBe('private (committed)')
    // Nothing links to a commit or names where the code lives.
    expect(await row.locator('a[href]').count()).toBe(0)
    // (The fixture's hidden commit is the public services' commit too: looked for in the row only.)
    expect(await row.innerHTML()).not.toContain(PRIVATE_OPENING.commit)
    const shown = await page.locator('body').innerHTML()
    for (const secret of [PRIVATE_OPENING.project, new URL(PRIVATE_OPENING.providerUrl).host])
      expect(shown).not.toContain(secret)
    // The descriptor promises a reveal at 50 credits earned: progress from the ledger's runnerPaid.
    expect(await row.locator('[data-role="reveal-goal"]').textContent()).toBe(
      ' 0 of 50 credits earned toward the reveal',
    )
    expect(await row.locator('.badge.revealed').count()).toBe(0)

    await row.locator('button').click()
    await expect.poll(() => page.locator('#service').textContent()).toContain('private code')
    expect(await page.locator('#service').textContent()).toContain(priv.sourceCommitment)
    const before = stack.worker.received.length
    await page.locator('form.request button[type="submit"]').click()
    await page.locator('[data-role="voucher-confirm-button"]').click()
    await expect.poll(() => stack.worker.received.length, { timeout: 15_000 }).toBe(before + 1)
    expect(stack.worker.received.at(-1)?.submission.request.service).toBe(priv.address)
    await page.locator('[data-role="job-status"][data-phase="done"]').waitFor({ timeout: 30_000 })
    // The double reports a run URL (a real Worker keeps it back): a private service's run is not
    // linked, since its link would name the project.
    expect(await page.locator('[data-role="pipeline-link"]').count()).toBe(0)
    const summary = page.locator('#service [data-role="verify-summary"][data-result]')
    await summary.waitFor({ timeout: 120_000 })
    const linksOf = (where: string) =>
      page
        .locator(`${where} ol.links li`)
        .evaluateAll((lis) =>
          Object.fromEntries(
            lis.map((li) => [li.getAttribute('data-link'), li.getAttribute('data-status')]),
          ),
        )
    // Every link verifies; the source is neither passed nor failed while it is only committed.
    expect(await linksOf('#service')).toEqual({
      bundle: 'ok',
      manifest: 'ok',
      files: 'ok',
      signature: 'ok',
      runner: 'ok',
      service: 'ok',
      source: 'pending',
      settled: 'ok',
      inner: 'ok',
    })
    expect(await page.locator('#service [data-link="source"] .detail').textContent()).toBe(
      `private (committed): ${priv.sourceCommitment}`,
    )
    expect(await page.locator('#service [data-role="unverified"]').count()).toBe(0)
    const job = stack.completed.at(-1)!
    await page.locator('#service').screenshot({ path: join(RESULTS, 'page-private.png') })
    const marketRow = async () => {
      await page.goto(stack.pageUrl)
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 })
      const r = page.locator(`tr[data-service="${priv.address}"]`)
      await r.waitFor()
      return r
    }
    // The settled job's price counts toward the reveal goal (the ledger's runnerPaid on chain).
    const settledRow = await marketRow()
    const goal = settledRow.locator('[data-role="reveal-goal"]')
    expect(await goal.textContent()).toBe(' 5 of 50 credits earned toward the reveal')
    expect(await goal.locator('progress').getAttribute('value')).toBe('10')

    // A reveal that does not open the commitment (another commit) is a broken link, named.
    const wrong = await stack.reveal({ ...stack.revealOf(priv), commit: 'f'.repeat(40) })
    const broken = await verifyByCid(job.bundleCid, job.jobId, priv.address)
    expect(broken.source).toBe('broken')
    const detail = page.locator('#verify [data-link="source"] .detail')
    expect(await detail.textContent()).toContain(`reveal ${wrong}`)
    expect(await detail.textContent()).toContain('do not open the commitment')
    expect(await page.locator('#verify [data-role="verify-summary"]').textContent()).toContain(
      'Broken link',
    )
    // The market names the broken reveal too.
    const afterWrong = await marketRow()
    expect(await afterWrong.locator('[data-role="reveal"]').getAttribute('data-state')).toBe(
      'broken',
    )
    expect(await afterWrong.locator('.badge.revealed').count()).toBe(0)
    expect(await afterWrong.locator('a[href]').count()).toBe(0)

    // The right opening, listed later: the job run before the reveal now verifies its source.
    const right = await stack.reveal(stack.revealOf(priv))
    const revealed = await verifyByCid(job.bundleCid, job.jobId, priv.address)
    expect(Object.values(revealed).every((s) => s === 'ok')).toBe(true)
    expect(await detail.textContent()).toBe(
      `revealed (${right}): ${PRIVATE_OPENING.providerUrl} ${PRIVATE_OPENING.project} @ ${PRIVATE_OPENING.commit}`,
    )
    await page.locator('#verify').screenshot({ path: join(RESULTS, 'page-private-revealed.png') })
    // The market marks it revealed and links the revealed commit, checked on this page.
    const afterRight = await marketRow()
    expect(await afterRight.locator('.badge.revealed').textContent()).toBe('revealed')
    expect(
      await afterRight
        .locator('[data-role="reveal"][data-state="revealed"] a')
        .getAttribute('href'),
    ).toBe(
      `${PRIVATE_OPENING.providerUrl}/${PRIVATE_OPENING.project}/-/commit/${PRIVATE_OPENING.commit}`,
    )
    expect(await afterRight.locator('[data-role="reveal-goal"]').count()).toBe(0)
    await afterRight.screenshot({ path: join(RESULTS, 'market-private-revealed.png') })
  }, 200_000)

  it('runs a job on a sponsor’s pool: signs the request only, no voucher, and watches it complete', async () => {
    await page.locator(`tr[data-service="${stack.service.address}"] button`).click()
    // Only the pool that can pay is offered.
    const payWith = page.locator('#service select[name="pay-with"]')
    const offered = await payWith
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))
    expect(offered).toEqual(['', SPONSOR_WITH_JOBS])
    await payWith.selectOption(SPONSOR_WITH_JOBS)
    const paidBefore = stack.worker.received.length
    const form = page.locator('form.request')
    await form.locator('select[name="SUITE"]').selectOption('unit')
    await form.locator('input[name="REPEAT"]').fill('1')
    await form.locator('button[type="submit"]').click()
    await expect.poll(() => stack.worker.sponsored.length, { timeout: 15_000 }).toBe(1)
    const submission = stack.worker.sponsored[0]!
    expect(submission.sponsored.sponsor).toBe(SPONSOR_WITH_JOBS)
    expect(verifySponsoredSubmission(submission).ok).toBe(true)
    expect(submission).not.toHaveProperty('voucher')
    // No voucher was shown to confirm, none sealed.
    expect(await page.locator('[data-role="voucher-confirm-button"]').count()).toBe(0)
    expect(stack.worker.received).toHaveLength(paidBefore)
    await page.locator('[data-role="job-status"][data-phase="done"]').waitFor({ timeout: 30_000 })
  })

  it('sponsors a service: the wallet signs the sponsorship and its pool vouchers, and offers them', async () => {
    await page.locator(`tr[data-service="${stack.service.address}"] button`).click()
    const form = page.locator('#service [data-role="sponsor"]')
    await form.locator('summary').click()
    await form.locator('input[name="jobs-per-day"]').fill('2')
    await form.locator('input[name="cap"]').fill('15')
    await form.locator('button[name="sponsor"]').click()
    await expect
      .poll(() => form.locator('[data-role="sponsor-status"]').textContent(), { timeout: 15_000 })
      .toContain('Sponsorship offered: 3 pool vouchers')
    const [grant] = stack.worker.grants
    expect(verifySponsorshipGrant(grant!).ok).toBe(true)
    expect(grant!.sponsorship).toMatchObject({
      service: stack.service.address,
      jobsPerUserPerDay: 2,
      cap: '15',
    })
    // Every voucher is for the sponsor's own channel and the cap: 15 credits pay 3 jobs at 5.
    expect(new Set(grant!.vouchers.map((v) => `${v.user}:${v.cumulativeAmount}`))).toEqual(
      new Set([`${grant!.sponsorship.sponsor}:15`]),
    )
    // The bundle's last nonce is this wallet's record for the service: a withdrawal request from
    // the channel panel closes at or above it, so no pool voucher outlives the withdrawal.
    const recorded = await page.evaluate(
      (k) => localStorage.getItem(k),
      `zkrunner:nonce:${stack.service.address}:${grant!.sponsorship.sponsor}`,
    )
    expect(recorded).toBe(grant!.vouchers.at(-1)!.nonce)
  })

  it('logged no errors in the page', () => {
    expect(consoleErrors.filter((e) => !e.includes('favicon'))).toEqual([])
  })
})

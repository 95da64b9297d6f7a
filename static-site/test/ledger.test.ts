import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '../../protocol/index.ts'
import { type AuroStandIn, installAuroStandIn } from '../../test/auro-standin.ts'
import { launchChromium } from './support/chromium.ts'
import { type LedgerStack, PRICE, startLedgerStack, TIMELOCK } from './support/ledger-stack.ts'
import { buildPage } from './support/stack.ts'

// The page's money flows against a real ChannelLedger on the local chain (proofs not verified:
// the page's worker sends o1js's dummy proofs, see support/ledger-stack.ts): deposit, the
// channel as the chain holds it, a withdrawal request, the withdrawal after the timelock, a batch
// the user sends (no runner needed), and the refund pull, each through the page's dev wallet.

let stack: LedgerStack
let context: BrowserContext
let page: Page
let pageDir: string
let profile: string
let auro: AuroStandIn
const consoleErrors: string[] = []
const log = (line: string) => console.log(`[ledger-stack] ${line}`)

beforeAll(async () => {
  pageDir = await buildPage()
  stack = await startLedgerStack({ pageDir, log })
  profile = await mkdtemp(join(tmpdir(), 'zkrunner-ledger-chromium-'))
  context = await launchChromium(profile)
  // The page's user is also an Auro account (the stand-in signs with mina-signer and sends to the
  // node, as the extension does): the last flows go through it.
  auro = await installAuroStandIn(context, {
    privateKey: stack.user.toBase58(),
    graphqlUrl: stack.node.url,
  })
  page = context.pages()[0] ?? (await context.newPage())
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text())
  })
  page.on('pageerror', (e) => consoleErrors.push(e.message))
}, 40 * 60_000)

afterAll(async () => {
  await context?.close()
  await stack?.close()
  if (pageDir) await rm(pageDir, { recursive: true, force: true })
  if (profile) await rm(profile, { recursive: true, force: true })
})

const text = (role: string) => page.locator(`[data-role="${role}"]`).textContent()
const button = (action: string) => page.locator(`[data-action="${action}"]`)
const user = () => stack.user.toPublicKey()
/** A channel field, read again from the chain first (the view's "Read again"). */
const fresh = async (role: string) => {
  await page.locator('[data-role="channel-refresh"]').click()
  return text(role)
}

/** Opens the service; its channel view reads the chain. */
async function open() {
  await page.goto(stack.pageUrl)
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 120_000 })
  await page.locator(`tr[data-service="${stack.service.toBase58()}"] button`).click()
  await page.locator('[data-role="channel-deposited"]').waitFor({ timeout: 120_000 })
}

const LABELS: Record<string, string> = {
  'request-withdraw': 'Request withdrawal',
  withdraw: 'Withdraw',
  'process-batch': 'Process the pending batch',
  refund: 'Pull my refund',
}

/** Clicks a channel button and waits until the page has seen its transaction on chain. */
async function act(action: string) {
  const label = LABELS[action]!
  await button(action).click()
  // This click's own outcome: its label, then either the hash once followed, or the error.
  await expect
    .poll(() => text('channel-status'), { timeout: 300_000, interval: 1000 })
    .toMatch(new RegExp(`^${label}: (?!reading)[^…]*$`))
  expect(await text('channel-status')).toMatch(new RegExp(`^${label}: sent \\w+$`))
}

describe('the page’s ledger flows in Chromium, against the local chain', () => {
  it('lists the services and shows an empty channel with nothing to do but deposit', async () => {
    await open()
    expect(await text('channel-deposited')).toBe('0 credits')
    expect(await text('channel-withdrawal')).toBe('none requested')
    expect(await button('request-withdraw').isDisabled()).toBe(true)
    expect(await text('reason-request-withdraw')).toBe('Nothing in escrow to withdraw.')
    expect(await text('reason-refund')).toBe('Nothing to refund.')
    expect(await button('process-batch').isDisabled()).toBe(true)
  }, 300_000)

  it('deposits into the ledger, then applies the pending batch itself', async () => {
    await page.locator('input[name="amount"]').fill('20')
    await page.getByRole('button', { name: 'Deposit credits' }).click()
    await expect
      .poll(() => text('deposit-status'), { timeout: 300_000, interval: 1000 })
      .toMatch(/^Deposit sent: \w+|^(?!.*…$).+/)
    expect(await text('deposit-status')).toMatch(/^Deposit sent: \w+/)
    await expect.poll(() => text('channel-deposited'), { timeout: 120_000 }).toBe('20 credits')
    expect((await stack.readUserChannel(user())).deposited).toBe(20n)
    expect(await text('channel-pending')).toBe('1')
    // No runner needed: the user applies the pending actions.
    await act('process-batch')
    await expect.poll(() => fresh('channel-pending'), { timeout: 60_000 }).toBe('0')
    expect(await text('channel-escrowed')).toBe('20 credits')
  }, 600_000)

  it('shows the runner’s claim as paid, and a stranger’s actions change nothing of the user’s', async () => {
    await stack.runnerClaims(stack.user, [sha256(new TextEncoder().encode('job 1'))], PRICE, 1n)
    await open()
    expect(await text('channel-paid')).toBe('5 credits (5 claimed, not applied by a batch yet)')
    expect(await text('channel-escrowed')).toBe('15 credits')
    await act('process-batch')
    await expect.poll(() => fresh('channel-paid'), { timeout: 60_000 }).toBe('5 credits')
  }, 600_000)

  it('requests withdrawal; before the timelock it says when, and nothing is refundable', async () => {
    await act('request-withdraw')
    await expect
      .poll(() => text('channel-withdrawal'), { timeout: 60_000 })
      .toMatch(/^requested; the timelock ends at slot \d+/)
    const endsAt = BigInt(/slot (\d+)/.exec((await text('channel-withdrawal')) ?? '')![1]!)
    expect(await button('withdraw').isDisabled()).toBe(true)
    expect(await text('reason-withdraw')).toMatch(
      new RegExp(`^The timelock ends at slot ${endsAt}, \\d+ slots? from now`),
    )
    expect(await text('reason-refund')).toBe('Nothing to refund.')
    expect(await button('request-withdraw').isDisabled()).toBe(true)
    const ch = await stack.readUserChannel(user())
    expect(ch.withdrawRequestedAtSlot + BigInt(TIMELOCK)).toBe(endsAt)
  }, 600_000)

  it('a lying archive that drops the runner’s latest claim: the page shows no amounts', async () => {
    await stack.runnerClaims(
      stack.user,
      [1, 2].map((i) => sha256(new Uint8Array([i]))),
      10n,
      2n,
    )
    stack.setArchiveLie(true)
    try {
      await page.goto(stack.pageUrl)
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 120_000 })
      await page.locator(`tr[data-service="${stack.service.toBase58()}"] button`).click()
      await page.locator('[data-role="channel-error"]').waitFor({ timeout: 120_000 })
      // protocol's ledger reader: the listed actions must hash to the node's action state.
      expect(await text('channel-error')).toContain(
        "the archive's actions do not hash to the ledger's action state",
      )
      expect(await page.locator('[data-role="channel-paid"]').count()).toBe(0)
      expect(await page.locator('[data-action]').count()).toBe(0)
      // The same archive cannot vouch for the escrow either: no deposit or request is offered,
      // while the channel (and its withdrawal, once readable) stays in reach.
      expect(await page.locator('#service [role="alert"]').textContent()).toContain('Unsafe')
      expect(await page.locator('#service').textContent()).toContain('SOLVENCY_UNCHECKED')
      expect(await page.locator('form.request').count()).toBe(0)
    } finally {
      stack.setArchiveLie(false)
    }
    await open()
    expect(await text('channel-paid')).toBe('10 credits (5 claimed, not applied by a batch yet)')
  }, 600_000)

  it('withdraws after the timelock, applies the batch and pulls the refund, all signed and sent by Auro', async () => {
    // A stranger's deposit for the user lands during the timelock (1 credit): it cancels nothing,
    // and is refunded with the rest.
    await stack.depositFor(stack.stranger, user(), 1n)
    await stack.node.advanceSlots(TIMELOCK + 12)
    await open()
    await page.getByRole('button', { name: 'Connect Auro' }).click()
    await expect
      .poll(() => page.locator('[data-role="wallet"]').textContent(), { timeout: 30_000 })
      .toMatch(/^Auro/)
    expect(await button('withdraw').isDisabled()).toBe(false)
    await act('withdraw')
    await expect
      .poll(() => text('reason-refund'), { timeout: 60_000 })
      .toMatch(/^Your refund of 11 credits waits for a batch/)
    await act('process-batch')
    await expect.poll(() => fresh('channel-refund'), { timeout: 60_000 }).toBe('11 credits')
    const before = await stack.readCredits(user())
    await act('refund')
    await expect.poll(() => fresh('channel-refund'), { timeout: 60_000 }).toBe('0 credits')
    expect(await text('reason-refund')).toBe('Nothing to refund.')
    // 20 deposited and 1 by the stranger, 10 paid to the runner for two jobs: 11 back.
    expect(await stack.readCredits(user())).toBe(before + 11n)
    expect(await text('channel-escrowed')).toBe('0 credits')
    // Three commands, each proved unsigned in the page's worker and signed by the wallet.
    expect(auro.sent).toHaveLength(3)
  }, 900_000)

  it('logged no errors in the page', () => {
    expect(consoleErrors.filter((e) => !e.includes('favicon'))).toEqual([])
  })
})

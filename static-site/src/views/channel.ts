import {
  type ChannelAction,
  type ChannelReading,
  channelActions,
  channelFacts,
} from '../ledger-channel.ts'
import { h, messageOf } from './dom.ts'

/** What the channel view needs from the page: the chain's reading and a way to send an action. */
export interface ChannelSource {
  /** Reads the user's channel (throws when the chain's word cannot be checked). */
  read(): Promise<ChannelReading>
  /** Builds, signs (through the wallet) and sends one action; resolves with the transaction hash. */
  send(
    action: ChannelAction,
    reading: ChannelReading,
    progress: (m: string) => void,
  ): Promise<string>
}

const LABELS: Record<ChannelAction, string> = {
  'request-withdraw': 'Request withdrawal',
  withdraw: 'Withdraw',
  'process-batch': 'Process the pending batch',
  refund: 'Pull my refund',
}
const ORDER: readonly ChannelAction[] = ['request-withdraw', 'withdraw', 'process-batch', 'refund']

/** How often the view reads the chain again after it sent a transaction, until it sees it. */
const FOLLOW_MS = 2000
const FOLLOW_TRIES = 90

/**
 * "Your channel" with a service: what the chain proves was deposited, paid to the runner, is
 * pending withdrawal (and the slot its timelock ends), and is refundable, with the four money
 * buttons, each enabled only when it can do something and otherwise saying why. When the chain's
 * word cannot be checked it shows no amounts and no button.
 */
export function channelView(source: ChannelSource): { el: HTMLElement; refresh(): Promise<void> } {
  const status = h('p', { 'aria-live': 'polite', 'data-role': 'channel-status' })
  const body = h('div', { 'data-role': 'channel' })
  const again = h('button', { type: 'button', 'data-role': 'channel-refresh' }, 'Read again')
  const el = h(
    'section',
    { 'data-role': 'channel-view' },
    h('h3', {}, 'Your channel'),
    body,
    h('div', { class: 'controls' }, again),
    status,
  )
  let busy = false
  /** The last reading shown, and its amounts as a key (the slot moves every block: left out). */
  let last: ChannelReading | null = null
  let shown = ''

  const render = (r: ChannelReading) => {
    const f = channelFacts(r)
    const actions = channelActions(f)
    const row = (role: string, label: string, value: string) => [
      h('dt', {}, label),
      h('dd', { 'data-role': role }, value),
    ]
    const w = f.withdrawal
    body.replaceChildren(
      h(
        'dl',
        {},
        ...row('channel-deposited', 'Deposited', `${f.deposited} credits`),
        ...row(
          'channel-paid',
          'Paid to the runner',
          `${f.paid} credits${f.paidPending > 0n ? ` (${f.paidPending} claimed, not applied by a batch yet)` : ''}`,
        ),
        ...row('channel-escrowed', 'Yours in escrow', `${f.escrowed} credits`),
        ...row(
          'channel-withdrawal',
          'Withdrawal',
          !w
            ? 'none requested'
            : w.over
              ? `requested; the timelock ended at slot ${w.endsAt}`
              : `requested; the timelock ends at slot ${w.endsAt} (${w.slotsLeft} slots from now, slot ${r.slot})`,
        ),
        ...row(
          'channel-refund',
          'Refund to pull',
          `${f.refundPullable} credits${f.refundWaiting > 0n ? ` (${f.refundWaiting} more once a batch applies your withdrawal)` : ''}`,
        ),
        ...row('channel-pending', 'Actions waiting for a batch', String(f.pendingActions)),
      ),
      h(
        'div',
        { class: 'controls channel-actions' },
        ...ORDER.map((a) =>
          h(
            'div',
            { class: 'channel-action' },
            h(
              'button',
              {
                type: 'button',
                'data-action': a,
                disabled: busy || !actions[a].enabled,
                onclick: () => void act(a),
              },
              LABELS[a],
            ),
            h('span', { class: 'muted', 'data-role': `reason-${a}` }, actions[a].reason),
          ),
        ),
      ),
    )
  }

  const read = async (): Promise<ChannelReading | null> => {
    try {
      const r = await source.read()
      last = r
      shown = JSON.stringify({ ...r, slot: undefined }, (_k, v) =>
        typeof v === 'bigint' ? v.toString() : v,
      )
      render(r)
      return r
    } catch (e) {
      last = null
      // Fail closed: no amounts and no buttons from a chain read that did not check out.
      body.replaceChildren(
        h(
          'p',
          { class: 'error', 'data-role': 'channel-error' },
          `Channel not shown: ${messageOf(e)}`,
        ),
      )
      return null
    }
  }

  const act = async (a: ChannelAction) => {
    if (busy) return
    busy = true
    status.textContent = `${LABELS[a]}: reading the channel…`
    try {
      // Read again at the click: the channel may have moved since it was shown.
      const r = await read()
      if (!r) {
        status.textContent = `${LABELS[a]}: nothing sent (the channel could not be read)`
        return
      }
      const now = channelActions(channelFacts(r))[a]
      if (!now.enabled) {
        status.textContent = now.reason
        return
      }
      const before = shown
      const hash = await source.send(a, r, (m) => {
        status.textContent = m
      })
      status.textContent = `${LABELS[a]}: sent ${hash}; waiting for the chain…`
      for (let i = 0; i < FOLLOW_TRIES; i++) {
        await new Promise((res) => setTimeout(res, FOLLOW_MS))
        const next = await read()
        if (next && shown !== before) break
      }
      status.textContent = `${LABELS[a]}: sent ${hash}`
    } catch (e) {
      status.textContent = `${LABELS[a]}: ${messageOf(e)}`
    } finally {
      busy = false
      // Buttons back as the last reading says.
      if (last) render(last)
    }
  }

  // The chain moves without the page (the timelock ends, a runner's claim lands): read it again.
  again.addEventListener('click', () => {
    if (!busy) void read()
  })

  return {
    el,
    refresh: async () => {
      body.replaceChildren(h('p', { class: 'muted' }, 'Reading your channel from the chain…'))
      await read()
    },
  }
}

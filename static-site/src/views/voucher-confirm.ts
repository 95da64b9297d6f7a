import type { NextVoucher, OwedSource } from '../../../protocol/index.ts'
import type { ReleasedCharge } from '../worker-client.ts'
import { h } from './dom.ts'
import { notChargedBecause } from './job-watch.ts'

// The step between "Request a job" and the wallet's signature: the user sees what they are proven
// to owe, what the Worker claims, and the amount the new voucher will carry, and says yes or no.
// Nothing is signed or sent before the yes.

const SOURCE: Record<OwedSource, string> = {
  voucher: 'your latest voucher, checked with your key',
  'own-record': 'what this browser signed last',
  settled: 'the amount settled on chain',
  released: 'the Worker’s lower figure (jobs it released as not charged)',
}

/** What the confirm step shows besides the voucher terms. */
export interface ConfirmContext {
  price: bigint
  /** The Worker's own figure, untrusted: shown, never signed. */
  reportedOwed: bigint | undefined
  /** The amount settled on chain, or why it could not be read. */
  settled: bigint | string
  /** The jobs the Worker says it released as not charged: why its figure may be lower. */
  released: readonly ReleasedCharge[]
}

/** Shows the voucher's terms in `box` and resolves true when the user confirms, false when they cancel. */
export function confirmVoucher(
  box: HTMLElement,
  next: NextVoucher,
  context: ConfirmContext,
): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (yes: boolean) => () => {
      sign.disabled = true
      cancel.disabled = true
      box.dataset.state = yes ? 'confirmed' : 'cancelled'
      resolve(yes)
    }
    const sign = h(
      'button',
      { type: 'button', 'data-role': 'voucher-confirm-button' },
      `Sign ${next.cumulativeAmount} credits`,
    )
    const cancel = h('button', { type: 'button', 'data-role': 'voucher-cancel' }, 'Cancel')
    sign.addEventListener('click', done(true))
    cancel.addEventListener('click', done(false))
    box.dataset.state = 'asking'
    box.replaceChildren(
      h(
        'p',
        { 'data-role': 'voucher-amount' },
        `Signing ${next.cumulativeAmount} credits in all: ${next.provenOwed} proven owed + ${context.price} for this job.`,
      ),
      h(
        'dl',
        { 'data-role': 'voucher-terms' },
        h('dt', {}, 'Proven owed'),
        h('dd', { 'data-role': 'proven-owed' }, `${next.provenOwed} (${SOURCE[next.source]})`),
        h('dt', {}, 'The Worker reports'),
        h(
          'dd',
          { 'data-role': 'reported-owed' },
          context.reportedOwed === undefined ? 'nothing' : `${context.reportedOwed} owed`,
        ),
        h('dt', {}, 'Settled on chain'),
        h(
          'dd',
          { 'data-role': 'settled-owed' },
          typeof context.settled === 'bigint' ? String(context.settled) : context.settled,
        ),
        h('dt', {}, 'New voucher amount'),
        h('dd', { 'data-role': 'new-voucher-amount' }, String(next.cumulativeAmount)),
        ...(context.released.length > 0
          ? [
              h('dt', {}, 'Not charged (the Worker says)'),
              h(
                'dd',
                {},
                h(
                  'ul',
                  { 'data-role': 'released-jobs' },
                  ...context.released.map((r) =>
                    h(
                      'li',
                      { 'data-job': r.jobId },
                      `job ${r.jobId}: ${r.amount} credits not owed, ${notChargedBecause(r.reason)}`,
                    ),
                  ),
                ),
              ),
            ]
          : []),
      ),
      next.warning
        ? h('p', { class: 'badge bad', 'data-role': 'voucher-warning' }, next.warning)
        : '',
      h('div', { class: 'controls' }, sign, cancel),
    )
  })
}

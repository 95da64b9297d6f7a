import { describe, expect, it } from 'vitest'
import { EMPTY_BOOK_CHANNEL } from '../../protocol/index.ts'
import { type ChannelReading, channelActions, channelFacts } from './ledger-channel.ts'

const reading = (r: Partial<ChannelReading> = {}): ChannelReading => ({
  user: 'B62user',
  ledger: 'B62ledger',
  terms: { pricePerJob: 5n, withdrawTimelockSlots: 40n },
  all: { ...EMPTY_BOOK_CHANNEL, deposited: 20n, paidSoFar: 10n },
  committed: { ...EMPTY_BOOK_CHANNEL, deposited: 20n, paidSoFar: 5n },
  pulled: 0n,
  pendingActions: 1,
  slot: 100n,
  ...r,
})

describe('the channel view rules', () => {
  it('shows what landed, what a batch has not applied yet, and what is the user’s', () => {
    const f = channelFacts(reading())
    expect(f).toMatchObject({ deposited: 20n, paid: 10n, paidPending: 5n, escrowed: 10n })
    expect(f.withdrawal).toBeNull()
    const a = channelActions(f)
    expect(a['request-withdraw'].enabled).toBe(true)
    expect(a.withdraw).toEqual({ enabled: false, reason: 'Request withdrawal first.' })
    expect(a['process-batch'].enabled).toBe(true)
    expect(a.refund).toEqual({ enabled: false, reason: 'Nothing to refund.' })
  })

  it('before the timelock ends: no withdrawal, and the slot it ends at', () => {
    const all = { ...EMPTY_BOOK_CHANNEL, deposited: 20n, withdrawRequestedAtSlot: 110n }
    const before = channelActions(channelFacts(reading({ all, slot: 120n })))
    expect(before.withdraw.enabled).toBe(false)
    expect(before.withdraw.reason).toContain('ends at slot 150, 30 slots from now')
    expect(before['request-withdraw'].enabled).toBe(false)
    const at = channelActions(channelFacts(reading({ all, slot: 150n })))
    expect(at.withdraw.enabled).toBe(true)
  })

  it('a refund is pullable once a batch granted it, and only what was not pulled', () => {
    const granted = { ...EMPTY_BOOK_CHANNEL, deposited: 5n, paidSoFar: 5n, refunded: 15n }
    const waiting = channelActions(
      channelFacts(reading({ all: granted, committed: { ...granted, refunded: 0n } })),
    )
    expect(waiting.refund).toEqual({
      enabled: false,
      reason: 'Your refund of 15 credits waits for a batch: process it, then pull.',
    })
    const f = channelFacts(reading({ all: granted, committed: granted, pulled: 10n }))
    expect(f.refundPullable).toBe(5n)
    expect(channelActions(f).refund.enabled).toBe(true)
    const done = channelFacts(reading({ all: granted, committed: granted, pulled: 15n }))
    expect(channelActions(done).refund.reason).toBe('Nothing to refund.')
    expect(channelActions(done)['request-withdraw'].reason).toBe('Nothing in escrow to withdraw.')
  })
})

import { describe, expect, it } from 'vitest'
import { byWithdrawalDeadline } from './settle-queue.ts'
import type { SettlementBatch } from './settler.ts'

// The settle queue settles the channels whose withdrawal timelock ends first: a user who asked
// to withdraw takes back, at the deadline, what the runner has not settled by then.

const batch = (user: string): SettlementBatch => ({
  service: 'S',
  user,
  voucher: {
    v: 1,
    user,
    service: 'S',
    cumulativeAmount: '10',
    nonce: '1',
    signature: 'sig',
  } as SettlementBatch['voucher'],
  jobs: [{ jobId: `job-${user}`, manifestDigest: 'ab' }],
  settled: [],
})

describe('byWithdrawalDeadline', () => {
  it('puts the earliest deadlines first and channels with no withdrawal last, in queue order', async () => {
    const deadlines: Record<string, bigint | null> = { a: null, b: 90n, c: 40n, d: null, e: 40n }
    const asked: string[] = []
    const ordered = await byWithdrawalDeadline(
      ['a', 'b', 'c', 'd', 'e'].map(batch),
      async (service, user) => {
        expect(service).toBe('S')
        asked.push(user)
        return deadlines[user] ?? null
      },
    )
    expect(ordered.map((b) => b.user)).toEqual(['c', 'e', 'b', 'a', 'd'])
    expect(asked.sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('keeps the queue order when no withdrawal is pending', async () => {
    const ordered = await byWithdrawalDeadline(['x', 'y', 'z'].map(batch), async () => null)
    expect(ordered.map((b) => b.user)).toEqual(['x', 'y', 'z'])
  })
})

import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  generateMinaKeyPair,
  signSponsorshipGrant,
  signVoucher,
  type Voucher,
} from '../../protocol/index.ts'
import { Spool } from '../spool/spool.ts'
import { byWithdrawalDeadline, pendingBatches } from './settle-queue.ts'
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

describe('pendingBatches of sponsored jobs', () => {
  it('claims a sponsored job against the sponsor’s pool channel with its latest pool voucher, apart from users who pay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zkrunner-settle-queue-'))
    try {
      const spool = new Spool(dir)
      const service = generateMinaKeyPair().publicKey
      const sponsor = generateMinaKeyPair()
      const payer = generateMinaKeyPair()
      const grant = signSponsorshipGrant(
        {
          v: 1,
          service,
          sponsor: sponsor.publicKey,
          jobsPerUserPerDay: 3,
          endSlot: '9999',
          cap: '100',
        },
        { firstNonce: 1n, count: 3 },
        sponsor.privateKey,
      )
      const own = signVoucher(
        { v: 1, user: payer.publicKey, service, cumulativeAmount: '10', nonce: '1' },
        payer.privateKey,
      )
      let at = 0
      const job = async (user: string, voucher: Voucher, phase: 'queued' | 'settled') => {
        const jobId = randomBytes(16).toString('hex')
        await spool.create({
          jobId,
          service,
          sourceCommitment: 'c'.repeat(40),
          user,
          command: 'true',
          args: [],
          artifacts: [],
          cwd: dir,
          createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, at++)).toISOString(),
          voucher,
        })
        const digest = randomBytes(32).toString('hex')
        await spool.setState(jobId, {
          phase,
          manifestDigest: digest,
          outcome: { exitCode: 0, signal: null, startedAt: '', endedAt: '', wallMs: 1 },
          ...(phase === 'settled' ? { resultIndex: 0 } : {}),
        })
        return { jobId, digest }
      }
      // Two users' jobs on the pool (the Worker handed them pool vouchers 1..3), one settled before.
      const before = await job(generateMinaKeyPair().publicKey, grant.vouchers[0]!, 'settled')
      const a = await job(generateMinaKeyPair().publicKey, grant.vouchers[2]!, 'queued')
      const b = await job(generateMinaKeyPair().publicKey, grant.vouchers[1]!, 'queued')
      const paid = await job(payer.publicKey, own, 'queued')

      const batches = await pendingBatches(spool)
      const pool = batches.find((x) => x.user === sponsor.publicKey)
      expect(pool).toBeDefined()
      // The newest pool voucher pays for both; the settled job's leaf comes first in the pool's tree.
      expect(pool!.voucher.nonce).toBe('3')
      expect(pool!.voucher.user).toBe(sponsor.publicKey)
      expect(pool!.jobs.map((j) => j.jobId)).toEqual([a.jobId, b.jobId])
      expect(pool!.settled).toEqual([before.digest])
      // A paying user's job stays on their own channel.
      const own_ = batches.find((x) => x.user === payer.publicKey)
      expect(own_?.jobs.map((j) => j.jobId)).toEqual([paid.jobId])
      expect(batches).toHaveLength(2)
      // Settling one channel: the pool's by its sponsor's key.
      expect((await pendingBatches(spool, { user: sponsor.publicKey })).map((x) => x.user)).toEqual(
        [sponsor.publicKey],
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

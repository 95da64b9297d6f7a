import { isPayable, parseVoucher, type Voucher } from '../../protocol/index.ts'
import type { Spool } from '../spool/spool.ts'
import type { SettlementBatch, Settler } from './settler.ts'

/**
 * Outcome of settling one batch (a user's claim), or of a service's flush once its claims landed
 * (its batches and the runner's redeem: `batches`).
 */
export type SettleOutcome =
  | { service: string; user: string; jobs: number; txHash: string }
  | { service: string; user: string; jobs: number; error: string }
  | { service: string; batches: number; redeemed: string }
  | { service: string; batches: 0; error: string }

type Group = SettlementBatch & {
  createdAt: string[]
  done: { digest: string; index: number }[]
}

/**
 * The ledger channel that pays for a job: its voucher's signer. That is the job's user, or for a
 * sponsored job the sponsor, whose pool voucher the Worker sent with the job (it is signed for the
 * sponsor's channel and pays only this runner for committed results). A job without a voucher of
 * its own is its user's.
 */
function channelOf(meta: { user: string; voucher?: unknown }): {
  user: string
  voucher: Voucher | undefined
} {
  const parsed = meta.voucher === undefined ? undefined : parseVoucher(meta.voucher)
  const voucher = parsed?.ok ? parsed.value : undefined
  return { user: voucher?.user ?? meta.user, voucher }
}

/**
 * Groups every queued (reported, unsettled) job by service and paying channel (the user's, or a
 * sponsor's pool), with the channel's latest voucher and the digests of the channel's jobs settled
 * before (in the leaf order they were settled in).
 */
export async function pendingBatches(
  spool: Spool,
  filter?: { user?: string },
): Promise<SettlementBatch[]> {
  const groups = new Map<string, Group>()
  const settled = new Map<string, { digest: string; index: number }[]>()
  for (const id of await spool.list()) {
    const state = await spool.state(id).catch(() => null)
    if (!state?.manifestDigest) continue
    if (state.phase !== 'queued' && state.phase !== 'settled') continue
    // A job refused before it ran (its source did not match) delivered nothing: never charged.
    // Nor is one the Worker decided not charged (no result by its deadline): whatever phase it
    // reached, the user's vouchers after that decision leave it out.
    if (state.notRun || state.notCharged) continue
    const meta = await spool.meta(id)
    const { user, voucher: v } = channelOf(meta)
    if (filter?.user && user !== filter.user) continue
    const key = `${meta.service}/${user}`
    if (state.phase === 'settled') {
      const list = settled.get(key) ?? []
      list.push({ digest: state.manifestDigest, index: state.resultIndex ?? Number.MAX_VALUE })
      settled.set(key, list)
      continue
    }
    let g = groups.get(key)
    if (!g && v) {
      g = {
        service: meta.service,
        user,
        voucher: v,
        jobs: [],
        settled: [],
        createdAt: [],
        done: [],
      }
      groups.set(key, g)
    }
    // A job without a voucher of its own is paid by a later job's voucher of the same user.
    if (!g) continue
    if (v && BigInt(v.nonce) > BigInt(g.voucher.nonce)) g.voucher = v
    // A job that did not run to an end (lost, refused) is never a result: its voucher still
    // counts as the user's latest, but the runner is not paid for it.
    if (!state.outcome || !isPayable(state.outcome)) continue
    g.jobs.push({ jobId: id, manifestDigest: state.manifestDigest })
    g.createdAt.push(meta.createdAt)
  }
  return [...groups.entries()].flatMap(([key, { createdAt, done: _, ...batch }]) => {
    if (batch.jobs.length === 0) return []
    const order = batch.jobs
      .map((j, i) => ({ j, at: createdAt[i] ?? '' }))
      .sort((a, b) => a.at.localeCompare(b.at))
    const before = (settled.get(key) ?? []).sort((a, b) => a.index - b.index)
    return { ...batch, jobs: order.map((o) => o.j), settled: before.map((s) => s.digest) }
  })
}

/**
 * Orders batches so the channels whose withdrawal timelock ends first settle first (a user who
 * asked to withdraw takes back, at the deadline, whatever the runner has not settled by then);
 * channels with no pending withdrawal follow, in their queue order. Stable.
 */
export async function byWithdrawalDeadline(
  batches: SettlementBatch[],
  deadlineOf: (service: string, user: string) => Promise<bigint | null>,
): Promise<SettlementBatch[]> {
  const keyed = await Promise.all(
    batches.map(async (b, i) => ({ b, i, at: await deadlineOf(b.service, b.user) })),
  )
  keyed.sort((x, y) => {
    if (x.at !== null && y.at !== null && x.at !== y.at) return x.at < y.at ? -1 : 1
    if ((x.at === null) !== (y.at === null)) return x.at === null ? 1 : -1
    return x.i - y.i
  })
  return keyed.map((k) => k.b)
}

/**
 * Settles every pending batch (one claim per user and service), earliest withdrawal deadline
 * first, and marks the jobs it covered settled, with their leaf index in the user's results tree.
 * Then, once per service, the settler's flush: one round of batches applies every claim, and one
 * redeem pays the runner (not a batch and a redeem after each claim: each costs a proof and a
 * fee, and a redeem waits for the runner's claims to be processed).
 */
export async function settleQueued(
  spool: Spool,
  settler: Settler,
  filter?: { user?: string },
): Promise<SettleOutcome[]> {
  const out: SettleOutcome[] = []
  let batches = await pendingBatches(spool, filter)
  const deadlineOf = settler.withdrawalDeadline?.bind(settler)
  if (deadlineOf) batches = await byWithdrawalDeadline(batches, deadlineOf)
  for (const batch of batches) {
    const base = { service: batch.service, user: batch.user }
    try {
      const { txHash, jobs } = await settler.settle(batch)
      for (const [i, j] of batch.jobs.slice(0, jobs).entries())
        await spool.setState(j.jobId, {
          phase: 'settled',
          settleTx: txHash,
          resultIndex: batch.settled.length + i,
        })
      out.push({ ...base, jobs, txHash })
    } catch (e) {
      out.push({ ...base, jobs: 0, error: (e as Error).message })
    }
  }
  if (settler.flush) {
    // Every service with a batch, even one whose claims failed: a claim an earlier round landed
    // (its flush interrupted) is applied and paid now.
    for (const service of new Set(batches.map((b) => b.service))) {
      try {
        out.push({ service, ...(await settler.flush(service)) })
      } catch (e) {
        out.push({ service, batches: 0, error: (e as Error).message })
      }
    }
  }
  return out
}

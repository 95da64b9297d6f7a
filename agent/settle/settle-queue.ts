import { parseVoucher, type Voucher } from '../../protocol/index.ts'
import type { Spool } from '../spool/spool.ts'
import type { SettlementBatch, Settler } from './settler.ts'

/** Outcome of settling one batch. */
export type SettleOutcome =
  | { service: string; user: string; jobs: number; txHash: string }
  | { service: string; user: string; jobs: number; error: string }

/** Groups every queued (reported, unsettled) job by service and user, with the latest voucher. */
export async function pendingBatches(
  spool: Spool,
  filter?: { user?: string },
): Promise<SettlementBatch[]> {
  const groups = new Map<string, SettlementBatch & { createdAt: string[] }>()
  const skipped = new Map<string, Voucher | undefined>()
  for (const id of await spool.list()) {
    const state = await spool.state(id).catch(() => null)
    if (state?.phase !== 'queued' || !state.manifestDigest) continue
    const meta = await spool.meta(id)
    if (filter?.user && meta.user !== filter.user) continue
    const key = `${meta.service}/${meta.user}`
    const voucher = meta.voucher === undefined ? undefined : parseVoucher(meta.voucher)
    const v = voucher?.ok ? voucher.value : undefined
    let g = groups.get(key)
    if (!g && v) {
      g = { service: meta.service, user: meta.user, voucher: v, jobs: [], createdAt: [] }
      groups.set(key, g)
    }
    if (!g) {
      skipped.set(key, undefined)
      continue
    }
    if (v && BigInt(v.nonce) > BigInt(g.voucher.nonce)) g.voucher = v
    g.jobs.push({ jobId: id, manifestDigest: state.manifestDigest })
    g.createdAt.push(meta.createdAt)
  }
  return [...groups.values()].map(({ createdAt, ...batch }) => {
    const order = batch.jobs
      .map((j, i) => ({ j, at: createdAt[i] ?? '' }))
      .sort((a, b) => a.at.localeCompare(b.at))
    return { ...batch, jobs: order.map((o) => o.j) }
  })
}

/** Settles every pending batch (one transaction per user and service) and marks its jobs settled. */
export async function settleQueued(
  spool: Spool,
  settler: Settler,
  filter?: { user?: string },
): Promise<SettleOutcome[]> {
  const out: SettleOutcome[] = []
  for (const batch of await pendingBatches(spool, filter)) {
    const base = { service: batch.service, user: batch.user, jobs: batch.jobs.length }
    try {
      const { txHash } = await settler.settle(batch)
      for (const j of batch.jobs)
        await spool.setState(j.jobId, { phase: 'settled', settleTx: txHash })
      out.push({ ...base, txHash })
    } catch (e) {
      out.push({ ...base, error: (e as Error).message })
    }
  }
  return out
}

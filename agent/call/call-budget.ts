import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type InnerJob, InnerJobSchema, MAX_INNER_JOBS } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'

// The operator's bound on what driver calls may cost. Checked before a voucher is signed, never
// after: a job that asks for one call too many gets an error and nothing is signed. The ledger
// counts a call as spent the moment its voucher is about to be signed, whether or not the Worker
// then admits it: the signature exists, so its amount could be claimed.

/** The operator's limits, from the agent's config (validated there once). */
export interface CallBudget {
  /** Credits one outer job may spend on driver calls (sum of the prices signed for). */
  perJob: bigint
  /** The highest cumulative amount ever signed to one driver service. */
  perService: bigint
}

/** What one outer job has signed for so far, kept where every `call` of the job sees it. */
export interface CallLedger {
  /**
   * Runs `sign` only if `price` more keeps the outer job within `budget.perJob` and
   * `cumulativeAmount` is within `budget.perService`; records the spend first, atomically with the
   * check, so two concurrent calls of one job cannot both pass on the same remainder.
   */
  reserve<T>(
    outerJobId: string,
    spend: { requestId: string; price: bigint; cumulativeAmount: bigint },
    budget: CallBudget,
    sign: () => Promise<T>,
  ): Promise<T>
  /** What `outerJobId` has spent (for display). */
  spent(outerJobId: string): Promise<bigint>
  /** Records the verified result of the call reserved as `requestId`: it goes into the outer manifest. */
  recordInner(outerJobId: string, requestId: string, inner: InnerJob): Promise<void>
  /** The verified inner jobs of `outerJobId`, in the order they were called. */
  innerJobs(outerJobId: string): Promise<InnerJob[]>
}

const LOCK_WAIT_MS = 20
const LOCK_ATTEMPTS = 500

/** Throws CALL_BUDGET_EXHAUSTED when one more call of `price` does not fit; else returns nothing. */
export function checkBudget(
  spent: bigint,
  spend: { price: bigint; cumulativeAmount: bigint },
  budget: CallBudget,
): void {
  if (spent + spend.price > budget.perJob)
    throw new AgentError(
      AgentErrorCode.CALL_BUDGET_EXHAUSTED,
      `this job has spent ${spent} of its ${budget.perJob} credit budget for driver calls; one more costs ${spend.price}: nothing was signed`,
    )
  if (spend.cumulativeAmount > budget.perService)
    throw new AgentError(
      AgentErrorCode.CALL_BUDGET_EXHAUSTED,
      `the voucher would owe the driver ${spend.cumulativeAmount}, above the ${budget.perService} this runner may owe one service: nothing was signed`,
    )
}

/**
 * A ledger in the agent's data directory: one file per signed call under `calls/<outer job>/`,
 * with a lock directory (mkdir is atomic) around check-and-record. Each `call` is its own process,
 * so the spend must live on disk, not in memory.
 */
export function fileCallLedger(dataDir: string): CallLedger {
  const dirOf = (outerJobId: string) => join(dataDir, 'calls', outerJobId)
  const spentIn = async (dir: string): Promise<bigint> => {
    let total = 0n
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue
      const entry = JSON.parse(await readFile(join(dir, name), 'utf8')) as { price: string }
      total += BigInt(entry.price)
    }
    return total
  }
  return {
    async reserve(outerJobId, spend, budget, sign) {
      const dir = dirOf(outerJobId)
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const lock = join(dir, '.lock')
      for (let i = 0; ; i++) {
        try {
          await mkdir(lock)
          break
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i >= LOCK_ATTEMPTS) throw e
          await new Promise((r) => setTimeout(r, LOCK_WAIT_MS))
        }
      }
      try {
        checkBudget(await spentIn(dir), spend, budget)
        await writeFile(
          join(dir, `${spend.requestId}.json`),
          JSON.stringify({
            price: spend.price.toString(),
            cumulativeAmount: spend.cumulativeAmount.toString(),
            // Call order: every entry is written under the lock, so its count orders them.
            sequence: await countEntries(dir),
          }),
          { flag: 'wx', mode: 0o600 },
        )
      } finally {
        await rmdir(lock)
      }
      return sign()
    },
    spent: (outerJobId) => spentIn(dirOf(outerJobId)),
    async recordInner(outerJobId, requestId, inner) {
      const file = join(dirOf(outerJobId), `${requestId}.json`)
      const entry = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
      await writeFile(file, JSON.stringify({ ...entry, inner }), { mode: 0o600 })
    },
    async innerJobs(outerJobId) {
      const dir = dirOf(outerJobId)
      const entries: { sequence: number; inner: InnerJob }[] = []
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.endsWith('.json')) continue
        const e = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
          sequence?: number
          inner?: unknown
        }
        // Only what `call` verified and recorded; a reservation whose call failed lists nothing.
        const inner = InnerJobSchema.safeParse(e.inner)
        if (inner.success) entries.push({ sequence: e.sequence ?? 0, inner: inner.data })
      }
      return entries
        .sort((a, b) => a.sequence - b.sequence)
        .slice(0, MAX_INNER_JOBS)
        .map((e) => e.inner)
    },
  }
}

async function countEntries(dir: string): Promise<number> {
  return (await readdir(dir)).filter((n) => n.endsWith('.json')).length
}

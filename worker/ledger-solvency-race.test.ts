import { runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  ActionKind,
  channelsRootOf,
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  generateMinaKeyPair,
  type LedgerProgress,
  LedgerState,
  type SolvencyHead,
} from '../protocol/index.ts'
import { ledgerActionFields } from '../protocol/test-support/ledger-action.ts'
import { LedgerFollower } from './ledger-follower.ts'
import { ReceiptKeeper } from './ledger-receipts.ts'
import { keptLedgerSolvency } from './ledger-solvency-kept.ts'
import type { ChainReader } from './mina.ts'
import { testEnv } from './test-support/fixtures.ts'

// attack8: the refund receipts are read after the head (one node document), so a refund pulled
// between the two reads counts as pulled while the head's escrow still holds it: a shortfall as
// large as the pull is hidden. An operator times the pull (or retries registration around the
// block that lands it) and gets its short ledger judged solvent, then seen solvent for good.

const terms = { pricePerJob: 10n, withdrawTimelockSlots: 50n }
const act = ledgerActionFields

describe('the kept solvency check and a refund pulled between its reads', () => {
  it('does not judge a short ledger solvent on a receipt read after the head', async () => {
    const A = generateMinaKeyPair().publicKey
    const B = generateMinaKeyPair().publicKey
    // A and B each deposited 100, paid 30, withdrew: owed 60 runner pay + 70 + 70 refunds = 200.
    const actions = [A, B].flatMap((u) => [
      act(ActionKind.deposit, u, { amount: 100n }),
      act(ActionKind.settle, u, { amount: 30n, nonce: 1n, resultsCount: 3n }),
      act(ActionKind.requestWithdraw, u, { slot: 10n }),
      act(ActionKind.withdraw, u, { slot: 100n }),
    ])
    const S = 4242n
    const reading = foldLedgerActions(actions, terms, S)
    const ledgerState = Array<bigint>(8).fill(0n)
    ledgerState[LedgerState.actionState] = S
    ledgerState[LedgerState.actionStack] = EMPTY_ACTION_STATE
    ledgerState[LedgerState.channelsRoot] = channelsRootOf(reading.book)!
    ledgerState[LedgerState.runnerPaid] = reading.runnerPaid
    ledgerState[LedgerState.refunded] = 140n
    // The escrow is 40 short (160 of 200); B pulls its 70 in the block that lands between the reads.
    let pulled = false
    const head = (): SolvencyHead => ({
      ledgerState,
      vaultState: null,
      vaultBalance: pulled ? 90n : 160n,
      terms,
      landedAt: S,
      processedAt: S,
    })
    const chain = {
      ledgerSolvencyHead: async () => head(),
      ledgerBookFrom: async (): Promise<LedgerProgress> =>
        ({
          reading,
          complete: true,
          rebuilt: false,
          listed: actions.length,
          folded: actions.length,
          touched: new Set([A, B]),
          lists: [{ list: 1n, state: S }],
        }) as unknown as LedgerProgress,
      ledgerReceipts: async () => {
        pulled = true
        return new Map([[B, 70n]])
      },
    } as unknown as ChainReader
    const ledger = generateMinaKeyPair().publicKey
    const stub = testEnv.SERVICES.get(testEnv.SERVICES.idFromName(`race-${ledger}`))
    const verdict = await runInDurableObject(stub, async (_i, state) => {
      const storage = {
        sql: state.storage.sql,
        transactionSync: <T>(fn: () => T) => state.storage.transactionSync(fn),
      }
      try {
        const v = await keptLedgerSolvency(
          chain,
          new LedgerFollower(storage, 100),
          new ReceiptKeeper(state.storage.sql),
          ledger,
          'token',
        )
        return v.solvent ? 'solvent' : v.code
      } catch (err) {
        return `error: ${err instanceof Error ? err.message : err}`
      }
    })
    // Before the pull and after it the ledger is 40 short: never solvent. (The next round reads
    // the moved head with the receipts now kept: insolvent.)
    expect(verdict).toBe('RECEIPTS_EXCEED_ESCROW')
  })
})

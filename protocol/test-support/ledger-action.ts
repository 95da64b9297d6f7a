import { type BookAction, encodeLedgerAction } from '../ledger-book.ts'

/**
 * A ledger action's dispatched fields for tests that write actions by hand (chain doubles, the
 * solvency cases): every value not given is 0, but the results root, which is any non-zero field
 * unless the test gives one (a claim's root is never checked off chain).
 */
export const ledgerActionFields = (
  kind: number,
  user: string,
  o: Partial<Pick<BookAction, 'amount' | 'nonce' | 'slot' | 'resultsRoot' | 'resultsCount'>> = {},
): bigint[] =>
  encodeLedgerAction({
    kind,
    user,
    amount: 0n,
    nonce: 0n,
    slot: 0n,
    resultsRoot: 5n,
    resultsCount: 0n,
    ...o,
  })

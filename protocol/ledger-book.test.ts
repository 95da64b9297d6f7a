import { describe, expect, it } from 'vitest'
import {
  ActionKind,
  decodeLedgerAction,
  EMPTY_BOOK_CHANNEL,
  encodeLedgerAction,
  LEDGER_ACTION_FIELDS,
  LedgerBook,
  SkipReason,
} from './ledger-book.ts'
import { publicKeyToFields } from './mina-key.ts'

// The rules over bigints; contracts' channel-ledger tests check a book rebuilt from the chain's
// actions holds exactly the channels processBatch wrote.

const A = 'B62qnd1W3pcLTpEj6ecoVpco8uHaPHRpJHHiQTMS4abk2u2jWwc9Trc'
const terms = { pricePerJob: 10n, withdrawTimelockSlots: 50n }
const act = (
  kind: number,
  o: Partial<{ amount: bigint; nonce: bigint; slot: bigint; count: bigint }>,
) => ({
  kind,
  user: A,
  amount: o.amount ?? 0n,
  nonce: o.nonce ?? 0n,
  slot: o.slot ?? 0n,
  resultsRoot: 7n,
  resultsCount: o.count ?? 0n,
})

describe('ledger book', () => {
  it('pays claims within voucher and deposit, skips the rest with processBatch’s reasons', () => {
    const book = new LedgerBook(terms)
    book.apply(act(ActionKind.deposit, { amount: 100n }))
    expect(book.apply(act(ActionKind.settle, { amount: 30n, nonce: 1n, count: 3n }))).toMatchObject(
      {
        reason: 0,
        runnerPaid: 30n,
      },
    )
    expect(book.apply(act(ActionKind.settle, { amount: 40n, nonce: 1n, count: 4n })).reason).toBe(
      SkipReason.staleVoucher,
    )
    expect(book.apply(act(ActionKind.settle, { amount: 40n, nonce: 2n, count: 3n })).reason).toBe(
      SkipReason.noNewResults,
    )
    expect(book.apply(act(ActionKind.settle, { amount: 35n, nonce: 2n, count: 4n })).reason).toBe(
      SkipReason.voucherBelowResults,
    )
    expect(book.apply(act(ActionKind.settle, { amount: 200n, nonce: 2n, count: 20n })).reason).toBe(
      SkipReason.voucherAboveDeposit,
    )
    expect(book.fundable(A)).toBe(70n)
  })

  it('refunds deposited − paid after the timelock, closes older vouchers, funds nothing while pending', () => {
    const book = new LedgerBook(terms)
    book.apply(act(ActionKind.deposit, { amount: 100n }))
    book.apply(act(ActionKind.settle, { amount: 20n, nonce: 1n, count: 2n }))
    expect(book.apply(act(ActionKind.withdraw, { slot: 5n })).reason).toBe(
      SkipReason.withdrawNotRequested,
    )
    book.apply(act(ActionKind.requestWithdraw, { nonce: 4n, slot: 10n }))
    expect(book.fundable(A)).toBe(0n)
    expect(book.apply(act(ActionKind.withdraw, { slot: 59n })).reason).toBe(
      SkipReason.timelockNotOver,
    )
    expect(book.apply(act(ActionKind.withdraw, { slot: 60n }))).toMatchObject({
      reason: 0,
      refund: 80n,
    })
    expect(book.get(A)).toEqual({
      ...EMPTY_BOOK_CHANNEL,
      paidSoFar: 20n,
      voucherNonce: 4n,
      resultsRoot: 7n,
      resultsCount: 2n,
      deposited: 20n,
      refunded: 80n,
    })
  })

  it('decodes an action from its dispatched fields, and refuses a malformed one', () => {
    const f = publicKeyToFields(A)
    if (!f.ok) throw f.error
    const [x, odd] = f.value
    expect(decodeLedgerAction(['1', x, odd, '100', '0', '0', '0', '0'])).toEqual({
      ...act(ActionKind.deposit, { amount: 100n }),
      resultsRoot: 0n,
    })
    expect(decodeLedgerAction(['1', x, 2n, '100', '0', '0', '0', '0'])).toBeNull()
    expect(decodeLedgerAction(['1', x, odd])).toBeNull()
  })

  it('encodes an action to the fields it decodes from', () => {
    const a = { ...act(ActionKind.settle, { amount: 30n, nonce: 2n, slot: 7n }), resultsRoot: 9n }
    const fields = encodeLedgerAction(a)
    expect(fields).toHaveLength(LEDGER_ACTION_FIELDS)
    expect(decodeLedgerAction(fields)).toEqual(a)
    expect(() => encodeLedgerAction({ ...a, user: 'B62qnot-a-key' })).toThrow()
  })
})

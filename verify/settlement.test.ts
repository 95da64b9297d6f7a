import { describe, expect, it } from 'vitest'
import {
  ActionKind,
  cidToFields,
  foldLedgerActions,
  generateMinaKeyPair,
  publicKeyToFields,
  unwrap,
} from '../protocol/index.ts'
import type { ChainEvent } from './chain-reader.ts'
import { settlementOf } from './settlement.ts'
import { claimData } from './test-support/ledger-double.ts'

// A settlement is what the ledger's processed book holds for the user; the Claim event of the
// claim that set it only adds the voucher amount and the leaves CID. A claim the batch skipped
// emits its event all the same: it must never count.

const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const terms = { pricePerJob: 10n, withdrawTimelockSlots: 50n }
const at = (height: number, chainStatus = 'canonical') => ({
  height,
  slot: height,
  chainStatus,
  sequence: 0,
  index: 0,
})
const keyOf = (who: string) => unwrap(publicKeyToFields(who))
const claim = (who: string, c: { amount: bigint; nonce: bigint; root: bigint; count: bigint }) => ({
  action: [BigInt(ActionKind.settle), ...keyOf(who), c.amount, c.nonce, 0n, c.root, c.count],
  data: claimData(keyOf(who), { ...c, cid: unwrap(cidToFields(CID)) }),
})
const deposit = (who: string, amount: bigint) => [
  BigInt(ActionKind.deposit),
  ...keyOf(who),
  amount,
  0n,
  0n,
  0n,
  0n,
]

describe('settlementOf', () => {
  const user = generateMinaKeyPair().publicKey
  const other = generateMinaKeyPair().publicKey
  const first = claim(user, { amount: 20n, nonce: 1n, root: 11n, count: 2n })
  const second = claim(user, { amount: 30n, nonce: 2n, root: 22n, count: 3n })
  // Above the user's deposit of 30: processBatch skips it, but its Claim event is on the chain.
  const skipped = claim(user, { amount: 50n, nonce: 3n, root: 33n, count: 5n })
  const theirs = claim(other, { amount: 10n, nonce: 1n, root: 99n, count: 1n })
  const actions = [
    deposit(user, 30n),
    deposit(other, 10n),
    first.action,
    theirs.action,
    second.action,
    skipped.action,
  ]
  const events: ChainEvent[] = [
    { ...at(1), data: first.data },
    { ...at(2), data: theirs.data },
    { ...at(3), data: second.data },
    { ...at(4), data: skipped.data },
  ]

  it('is the channel the batches left: a skipped claim’s event does not count', () => {
    const reading = foldLedgerActions(actions, terms, 0n)
    expect(settlementOf(reading, events, user)).toMatchObject({
      cumulativeAmount: 30n,
      nonce: 2n,
      jobs: 3n,
      resultsRoot: 22n,
      leavesCid: CID,
      height: 3,
    })
    expect(settlementOf(reading, events, other)).toMatchObject({ jobs: 1n, resultsRoot: 99n })
    expect(settlementOf(reading, events, generateMinaKeyPair().publicKey)).toBeNull()
  })

  it('counts only what the batches processed: a landed claim not yet processed is not settled', () => {
    const processed = foldLedgerActions(actions.slice(0, 4), terms, 0n)
    expect(settlementOf(processed, events, user)).toMatchObject({ jobs: 2n, resultsRoot: 11n })
  })

  it('without the claim’s event (orphaned, or not archived) keeps the channel, names no leaves', () => {
    const reading = foldLedgerActions(actions, terms, 0n)
    const orphaned = events.map((e) => (e.height === 3 ? { ...e, ...at(3, 'orphaned') } : e))
    expect(settlementOf(reading, orphaned, user)).toMatchObject({
      cumulativeAmount: 30n,
      jobs: 3n,
      leavesCid: null,
      chainStatus: 'unknown',
    })
  })

  it('ignores an event for the channel’s root by another user or of another shape', () => {
    const reading = foldLedgerActions(actions, terms, 0n)
    const forged = claim(other, { amount: 30n, nonce: 2n, root: 22n, count: 3n }).data
    const short = second.data.slice(0, 8)
    expect(
      settlementOf(
        reading,
        [
          { ...at(5), data: forged },
          { ...at(6), data: short },
        ],
        user,
      ),
    ).toMatchObject({ leavesCid: null })
  })
})

import { Field, IndexedMerkleMap, MerkleList, Poseidon } from 'o1js'
import { describe, expect, it } from 'vitest'
import { LedgerState, LedgerVaultState } from './chain-layout.ts'
import { channelsRootOf, indexedMapRoot } from './channels-root.ts'
import { UnsafeServiceCode } from './genuine-service.ts'
import {
  actionListHash,
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  LedgerReadError,
  nextActionState,
} from './ledger-actions.ts'
import { ActionKind } from './ledger-book.ts'
import {
  checkLedgerSolvency,
  checkLedgerSolvencyBounded,
  isPendingStack,
  type LedgerSolvencyInputs,
  MAX_CHECKED_STACK_LISTS,
} from './ledger-solvency.ts'
import { type SolvencyHead, solvencyInputsOf } from './ledger-solvency-read.ts'
import { ledgerActionFields } from './test-support/ledger-action.ts'

// The solvency rule over plain figures: each case a ledger whose actions, state and escrow a
// test sets, the verdict what every reader shows. contracts' ledger-solvency test runs the same
// rule on a LocalBlockchain's real reads.

const A = 'B62qnd1W3pcLTpEj6ecoVpco8uHaPHRpJHHiQTMS4abk2u2jWwc9Trc'
const B = 'B62qkmSLJVkBYf82Ja5Nrx6N2AvWUEbf7dRfy1Wmh3SjvHwpT5UBstJ'
const X = 'B62qqEc9dEctNXNTmwoJfUxdd42F9CFzPPtGWnu1fLaokR3x53jNFWj' // an accomplice
const terms = { pricePerJob: 10n, withdrawTimelockSlots: 50n }

const act = ledgerActionFields
const deposit = (user: string, amount: bigint) => act(ActionKind.deposit, user, { amount })
const settle = (user: string, amount: bigint, nonce: bigint, count: bigint) =>
  act(ActionKind.settle, user, { amount, nonce, resultsCount: count })
const request = (user: string) => act(ActionKind.requestWithdraw, user, { slot: 10n })
const withdraw = (user: string) => act(ActionKind.withdraw, user, { slot: 100n })

/**
 * A ledger whose batches processed `processed` and whose state is exactly what they give (unless
 * `state` overrides a field), with `pending` landed after, the vault holding `balance`.
 */
function ledger(o: {
  processed?: bigint[][]
  pending?: bigint[][]
  balance: bigint
  redeemed?: bigint
  receipts?: [string, bigint][]
  state?: Partial<Record<keyof typeof LedgerState, bigint>>
}): LedgerSolvencyInputs {
  const processedActions = o.processed ?? []
  const processed = foldLedgerActions(processedActions, terms, 1n)
  const landed = foldLedgerActions([...processedActions, ...(o.pending ?? [])], terms, 2n)
  let refunded = 0n
  for (const u of processed.book.users()) refunded += processed.book.get(u).refunded
  const state = Array<bigint>(8).fill(0n)
  state[LedgerState.actionState] = 1n
  state[LedgerState.actionStack] = EMPTY_ACTION_STATE
  state[LedgerState.channelsRoot] = channelsRootOf(processed.book)!
  state[LedgerState.runnerPaid] = processed.runnerPaid
  state[LedgerState.refunded] = refunded
  for (const [k, v] of Object.entries(o.state ?? {}))
    state[LedgerState[k as keyof typeof LedgerState]] = v
  const vaultState = Array<bigint>(8).fill(0n)
  vaultState[LedgerVaultState.redeemed] = o.redeemed ?? 0n
  return {
    ledgerState: state,
    vaultState,
    vaultBalance: o.balance,
    processed,
    landed,
    // Each pending action its own account update.
    pendingLists: (o.pending ?? []).map((a) => actionListHash([a])),
    receipts: new Map(o.receipts ?? []),
  }
}

const code = (inputs: LedgerSolvencyInputs) => {
  const v = checkLedgerSolvency(inputs)
  return v.solvent ? 'solvent' : v.code
}

describe('ledger solvency', () => {
  it('a fresh ledger with an empty escrow is solvent', () => {
    expect(checkLedgerSolvency(ledger({ balance: 0n }))).toEqual({
      solvent: true,
      owed: 0n,
      escrow: 0n,
    })
  })

  it('accepts a gift above what it owes, refuses a shortfall of one credit', () => {
    const processed = [deposit(A, 100n), deposit(B, 50n)]
    expect(checkLedgerSolvency(ledger({ processed, balance: 150n }))).toMatchObject({ owed: 150n })
    expect(checkLedgerSolvency(ledger({ processed, balance: 1_000n }))).toMatchObject({
      solvent: true,
      owed: 150n,
      escrow: 1_000n,
    })
    expect(checkLedgerSolvency(ledger({ processed, balance: 149n }))).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
      reason: expect.stringContaining('short by 1'),
    })
  })

  it('counts deposits landed but not yet processed', () => {
    const pending = [deposit(A, 40n), settle(A, 10n, 1n, 1n)]
    expect(code(ledger({ processed: [deposit(A, 60n)], pending, balance: 100n }))).toBe('solvent')
    expect(code(ledger({ processed: [deposit(A, 60n)], pending, balance: 99n }))).toBe(
      UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
    )
  })

  it('counts the runner’s pay until redeemed, and what the vault redeemed', () => {
    const processed = [deposit(A, 100n), settle(A, 30n, 1n, 3n)]
    expect(code(ledger({ processed, balance: 100n }))).toBe('solvent')
    expect(code(ledger({ processed, redeemed: 30n, balance: 70n }))).toBe('solvent')
    expect(code(ledger({ processed, redeemed: 20n, balance: 70n }))).toBe(
      UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
    )
    expect(code(ledger({ processed, redeemed: 31n, balance: 69n }))).toBe(
      UnsafeServiceCode.LEDGER_COUNTERS_DIFFER,
    )
  })

  it('counts refunds granted until pulled, and a receipt count above the refund as none owed', () => {
    const processed = [deposit(A, 100n), settle(A, 30n, 1n, 3n), request(A), withdraw(A)]
    expect(code(ledger({ processed, balance: 100n }))).toBe('solvent')
    expect(code(ledger({ processed, balance: 99n }))).toBe(UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW)
    expect(code(ledger({ processed, receipts: [[A, 70n]], balance: 30n }))).toBe('solvent')
    expect(code(ledger({ processed, receipts: [[A, 70n]], balance: 29n }))).toBe(
      UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
    )
    // Receipts minted to a user before the freeze only lower what that user can pull.
    expect(code(ledger({ processed, receipts: [[A, 500n]], balance: 30n }))).toBe('solvent')
  })

  it('refuses a channels root its actions do not rebuild from an empty map', () => {
    const processed = [deposit(A, 100n)]
    const forged = foldLedgerActions([deposit(A, 100n), deposit(B, 1_000n)], terms, 1n)
    expect(
      code(
        ledger({
          processed,
          balance: 10_000n,
          state: { channelsRoot: channelsRootOf(forged.book)! },
        }),
      ),
    ).toBe(UnsafeServiceCode.CHANNELS_NOT_REBUILT)
  })

  it('refuses a runnerPaid or refunded its actions did not pay', () => {
    const processed = [deposit(A, 100n)]
    expect(code(ledger({ processed, balance: 10_000n, state: { runnerPaid: 50n } }))).toBe(
      UnsafeServiceCode.LEDGER_COUNTERS_DIFFER,
    )
    expect(code(ledger({ processed, balance: 10_000n, state: { refunded: 50n } }))).toBe(
      UnsafeServiceCode.LEDGER_COUNTERS_DIFFER,
    )
  })

  it('throws when the processed book is not at the ledger’s action state (one reading)', () => {
    expect(() =>
      checkLedgerSolvency(ledger({ balance: 0n, state: { actionState: EMPTY_ACTION_STATE } })),
    ).toThrow(RangeError)
  })
})

describe('a ledger’s actions as batches reached them (ACTIONS_FORGED)', () => {
  // o1js BatchReducer's stack of pending action lists (MerkleActionHashes): pushed newest first
  // with the action state's own prefix, from the empty action state; processBatch pops the oldest.
  const O1jsStack = MerkleList.create(
    Field,
    (hash, list) => Poseidon.hashWithPrefix('MinaZkappSeqEvents**', [hash, list]),
    Field(EMPTY_ACTION_STATE),
  )
  const o1jsStackOf = (lists: bigint[]) => {
    const stack = O1jsStack.empty()
    for (const l of [...lists].reverse()) stack.push(Field(l))
    return stack.hash.toBigInt()
  }
  const pending = [deposit(A, 40n), deposit(B, 5n), settle(A, 10n, 1n, 1n), deposit(A, 1n)]
  const lists = pending.map((a) => actionListHash([a]))
  const withStack = (stack: bigint, o: Partial<LedgerSolvencyInputs> = {}) => {
    const inputs = ledger({ processed: [deposit(A, 60n)], pending, balance: 200n })
    const state = [...inputs.ledgerState]
    state[LedgerState.actionStack] = stack
    return { ...inputs, ledgerState: state, ...o }
  }

  it('accepts the empty stack and any stack of the lists landed after the processed state (as o1js builds it)', () => {
    expect(code(withStack(EMPTY_ACTION_STATE))).toBe('solvent')
    // Built at each later landed state, then popped from the oldest end (what a batch leaves).
    for (let built = 1; built <= lists.length; built++)
      for (let popped = 0; popped < built; popped++)
        expect(isPendingStack(o1jsStackOf(lists.slice(popped, built)), lists.slice(popped))).toBe(
          true,
        )
    expect(code(withStack(o1jsStackOf(lists.slice(0, 3))))).toBe('solvent')
  })

  it('refuses a stack of actions nobody dispatched, and a processed state the landed chain never passes', () => {
    // The attack: the key holder wrote a stack [deposit(X, 2000), request, withdraw] before the
    // freeze; a batch with useOnchainStack would pop it and refund X from others' deposits.
    const forged = [deposit(X, 2_000n)].map((a) => actionListHash([a]))
    expect(code(withStack(o1jsStackOf(forged)))).toBe(UnsafeServiceCode.ACTIONS_FORGED)
    // Real lists in another order, or skipping one, are no stack a batch leaves either.
    expect(code(withStack(o1jsStackOf([lists[1]!, lists[0]!])))).toBe(
      UnsafeServiceCode.ACTIONS_FORGED,
    )
    expect(code(withStack(o1jsStackOf([lists[0]!, lists[2]!])))).toBe(
      UnsafeServiceCode.ACTIONS_FORGED,
    )
    expect(code(withStack(EMPTY_ACTION_STATE, { pendingLists: null }))).toBe(
      UnsafeServiceCode.ACTIONS_FORGED,
    )
  })

  it('leaves a stack deeper than it checks undecided (a long backlog), never forged', () => {
    const many = Array.from({ length: MAX_CHECKED_STACK_LISTS + 3 }, (_, i) =>
      actionListHash([deposit(A, BigInt(i + 1))]),
    )
    // An honest stack built on all of them: undecided, so readers fail closed for now.
    expect(() => isPendingStack(o1jsStackOf(many), many)).toThrow(LedgerReadError)
    // Within the depth it is recognised.
    expect(isPendingStack(o1jsStackOf(many.slice(0, 10)), many)).toBe(true)
    // And the chain helper agrees with the action state's own hashing.
    expect(nextActionState(EMPTY_ACTION_STATE, [deposit(A, 1n)])).toBeTypeOf('bigint')
  })
})

describe('channels root without o1js', () => {
  it('equals o1js IndexedMerkleMap(20)’s root, in insertion order, after updates', () => {
    class Map20 extends IndexedMerkleMap(20) {}
    const map = new Map20()
    expect(indexedMapRoot([])).toBe(map.root.toBigInt())
    const entries: [bigint, bigint][] = [
      [5n, 11n],
      [3n, 12n],
      [900n, 13n],
      [7n, 14n],
    ]
    for (const [k, v] of entries) map.insert(Field(k), Field(v))
    expect(indexedMapRoot(entries)).toBe(map.root.toBigInt())
    map.set(Field(3n), Field(99n))
    entries[1] = [3n, 99n]
    expect(indexedMapRoot(entries)).toBe(map.root.toBigInt())
    // The same keys in another order are another map.
    expect(indexedMapRoot([...entries].reverse())).not.toBe(map.root.toBigInt())
  })

  it('refuses a repeated or zero key', () => {
    expect(
      indexedMapRoot([
        [5n, 1n],
        [5n, 2n],
      ]),
    ).toBeNull()
    expect(indexedMapRoot([[0n, 1n]])).toBeNull()
  })
})

describe('ledger solvency with receipts read over several checks', () => {
  // A and B each deposited 100, were paid 30 of it, withdrew: 70 refunded each, 60 runner pay.
  const processed = [A, B].flatMap((u) => [
    deposit(u, 100n),
    settle(u, 30n, 1n, 3n),
    request(u),
    withdraw(u),
  ])
  const bounded = (balance: bigint, receipts: [string, bigint][], fresh: string[]) =>
    checkLedgerSolvencyBounded(ledger({ processed, receipts, balance }), new Set(fresh))

  it('decides with every receipt read now as the whole check does', () => {
    expect(bounded(130n, [[A, 70n]], [A, B])).toMatchObject({ solvent: true, owed: 130n })
    expect(bounded(129n, [[A, 70n]], [A, B])).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
    })
  })

  it('never calls a ledger insolvent on a receipt read before: A pulled since, the escrow paid it', () => {
    // A was read at 0 by an earlier check and pulled 70 since; the escrow holds what B is owed.
    expect(bounded(130n, [[A, 0n]], [B])).toEqual({ solvent: null, unread: 1 })
    expect(bounded(130n, [], [B])).toEqual({ solvent: null, unread: 1 })
    // The same ledger with A read now is solvent.
    expect(bounded(130n, [[A, 70n]], [A, B])).toMatchObject({ solvent: true })
  })

  it('is solvent on receipts read before when even they leave enough (receipts only grow)', () => {
    expect(bounded(200n, [[A, 0n]], [B])).toMatchObject({ solvent: true, owed: 200n })
    expect(bounded(200n, [], [])).toMatchObject({ solvent: true })
  })

  it('is insolvent on unread receipts when even their all being pulled leaves too little', () => {
    expect(bounded(129n, [], [B])).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
    })
    expect(bounded(59n, [], [])).toMatchObject({ solvent: false })
  })

  it('ATTACK (attack8): a receipt read after the head lets a pull between the reads hide a shortfall', () => {
    // Owed 200 (60 runner pay, 70 + 70 refunds unpulled); the escrow is 40 short. B pulls its 70
    // between the reader's head (escrow 160) and its receipt read (70): both moments are
    // insolvent, the mix of the two is judged solvent. readLedgerSolvencyInputs and the Worker's
    // keptLedgerSolvency read the receipts after the head, so an operator who times a pull (or
    // retries registration around the block that lands it) gets "solvent". Fix: re-read the head
    // after the receipts and judge only when it did not move (vault balance, action states).
    const before = bounded(160n, [], [A, B])
    const after = bounded(90n, [[B, 70n]], [A, B])
    expect(before).toMatchObject({ solvent: false, code: UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW })
    expect(after).toMatchObject({ solvent: false, code: UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW })
    // The mix a reader builds today: the head's escrow, the receipt read after the pull.
    expect(bounded(160n, [[B, 70n]], [A, B])).toMatchObject({ solvent: true })
  })

  it('takes a user read at or above their refund as settled, with no read', () => {
    // A settled by an earlier check (70 of 70): exact; B read now at 0 is owed 70.
    expect(bounded(130n, [[A, 70n]], [B])).toMatchObject({ solvent: true, owed: 130n })
    expect(bounded(129n, [[A, 70n]], [B])).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.RECEIPTS_EXCEED_ESCROW,
    })
  })

  it('passes a verdict that no receipt changes straight through', () => {
    const inputs = ledger({ processed, balance: 1_000n, state: { runnerPaid: 1n } })
    expect(checkLedgerSolvencyBounded(inputs, new Set())).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.LEDGER_COUNTERS_DIFFER,
    })
  })
})

describe('solvency inputs from readings (the rule every reader shares)', () => {
  const inputs = ledger({ processed: [deposit(A, 10n)], pending: [deposit(B, 5n)], balance: 15n })
  const head: SolvencyHead = {
    ledgerState: [...inputs.ledgerState],
    vaultState: null,
    vaultBalance: 15n,
    terms,
    landedAt: 2n,
    processedAt: 1n,
  }
  const readings = {
    landed: { book: inputs.landed.book, actionState: 2n },
    pendingLists: inputs.pendingLists,
    processed: inputs.processed,
  }

  it('judges readings of the head’s moment', () => {
    expect(checkLedgerSolvency(solvencyInputsOf(head, readings, new Map()))).toMatchObject({
      solvent: true,
      owed: 15n,
    })
  })

  it('refuses readings of another moment (actions landed or processed between the reads)', () => {
    const moved = (f: () => unknown) => {
      try {
        f()
      } catch (err) {
        return err instanceof LedgerReadError ? err.code : 'other'
      }
      return 'judged'
    }
    expect(moved(() => solvencyInputsOf({ ...head, landedAt: 3n }, readings, new Map()))).toBe(
      'ACTION_STATE_MISMATCH',
    )
    expect(moved(() => solvencyInputsOf({ ...head, processedAt: 2n }, readings, new Map()))).toBe(
      'ACTION_STATE_MISMATCH',
    )
    // No processed book is only for a processed state the landed chain never passes.
    expect(moved(() => solvencyInputsOf(head, { ...readings, processed: null }, new Map()))).toBe(
      'ACTION_STATE_MISMATCH',
    )
    const forged = solvencyInputsOf(
      head,
      { ...readings, pendingLists: null, processed: null },
      new Map(),
    )
    expect(checkLedgerSolvency(forged)).toMatchObject({
      solvent: false,
      code: UnsafeServiceCode.ACTIONS_FORGED,
    })
  })
})

import { describe, expect, it } from 'vitest'
import {
  EMPTY_ACTION_STATE,
  type GraphqlQuery,
  LedgerReadError,
  LedgerReadErrorCode,
  ledgerReadingFromJSON,
  ledgerReadingToJSON,
  nextActionState,
  parseLedgerActions,
  parseLedgerActionsMarked,
  pushListHash,
  readLedgerBook,
  readLedgerBookFrom,
  walkLedgerActions,
} from './ledger-actions.ts'
import { ActionKind, LedgerBook } from './ledger-book.ts'
import { FIELD_MODULUS } from './mina-key.ts'
import { poseidonSalt } from './poseidon.ts'
import { ledgerActionFields } from './test-support/ledger-action.ts'

// A fake archive and node over a list of blocks of account updates, each a list of actions:
// the archive answers in the Archive-Node-API's shape, the node with the account's action state.

const USER = 'B62qnd1W3pcLTpEj6ecoVpco8uHaPHRpJHHiQTMS4abk2u2jWwc9Trc'
const OTHER = 'B62qkmSLJVkBYf82Ja5Nrx6N2AvWUEbf7dRfy1Wmh3SjvHwpT5UBstJ'
const LEDGER = 'B62qkzUATuPpDcqJ7W8pq381ihswvJ2HdFbE64GK2jP1xkqYUnmeuVA'
const terms = { pricePerJob: 10n, withdrawTimelockSlots: 50n }

const action = ledgerActionFields

type Update = bigint[][]
interface Block {
  updates: Update[]
}

function stateAfter(blocks: Block[]): bigint {
  let s = EMPTY_ACTION_STATE
  for (const b of blocks) for (const u of b.updates) s = nextActionState(s, u)
  return s
}

function archiveData(blocks: Block[]) {
  let s = EMPTY_ACTION_STATE
  return {
    actions: blocks.map((b, h) => {
      const before = s
      const actionData = b.updates.flatMap((u, seq) =>
        u.map((data) => ({
          accountUpdateId: String(100 + seq),
          data: data.map(String),
          transactionInfo: {
            status: 'applied',
            sequenceNumber: seq,
            zkappAccountUpdateIds: [100 + seq],
          },
        })),
      )
      for (const u of b.updates) s = nextActionState(s, u)
      return {
        blockInfo: { height: h + 1 },
        actionState: { actionStateOne: String(s), actionStateTwo: String(before) },
        actionData,
      }
    }),
  }
}

function sources(chain: Block[], archive: unknown = archiveData(chain)) {
  const node: GraphqlQuery = async () => ({
    account: {
      actionState: [String(stateAfter(chain)), '0', '0', '0', '0'],
      zkappState: Array(8).fill('0'),
    },
  })
  const archiveQuery: GraphqlQuery = async () => archive
  return { node, archive: archiveQuery }
}

async function refused(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(LedgerReadError)
  return (err as LedgerReadError).code
}

const funded: Block[] = [
  { updates: [[action(ActionKind.deposit, USER, { amount: 100n })]] },
  {
    updates: [
      [action(ActionKind.settle, USER, { amount: 30n, nonce: 1n, resultsCount: 3n })],
      [action(ActionKind.deposit, OTHER, { amount: 1n })],
    ],
  },
]

describe('ledger actions', () => {
  it('hashes actions into the action state exactly as o1js does', () => {
    // Printed by o1js 2.15: Actions.emptyActionState(), then updateSequenceState(s, Actions.hash(list)).
    const a = [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]
    const b = [9n, 10n, 11n, 12n, 13n, 14n, 15n, 16n]
    expect(EMPTY_ACTION_STATE).toBe(
      25079927036070901246064867767436987657692091363973573142121686150614948079097n,
    )
    expect(poseidonSalt('MinaZkappActionStateEmptyElt')[0]).toBe(EMPTY_ACTION_STATE)
    const s1 = nextActionState(EMPTY_ACTION_STATE, [a])
    expect(s1).toBe(18596743016177348970472367468987462169316389757474375813758849034877536826458n)
    expect(nextActionState(s1, [a, b])).toBe(
      11994330428901735259524378592410606509910371171218461735108911208080741006403n,
    )
  })

  it('folds a checked archive into the book: fundable, paid, settled jobs', async () => {
    const r = await readLedgerBook(sources(funded), LEDGER, terms)
    expect(r.book.fundable(USER)).toBe(70n)
    expect(r.book.fundable(OTHER)).toBe(1n)
    expect(r.runnerPaid).toBe(30n)
    expect(r.settledJobs).toBe(3n)
    expect(r.actionState).toBe(stateAfter(funded))
  })

  it('a pending withdrawal makes a user fundable for nothing', async () => {
    const chain = [
      ...funded,
      { updates: [[action(ActionKind.requestWithdraw, USER, { nonce: 2n, slot: 9n })]] },
    ]
    const r = await readLedgerBook(sources(chain), LEDGER, terms)
    expect(r.book.fundable(USER)).toBe(0n)
    expect(r.book.get(USER).withdrawRequestedAtSlot).toBe(9n)
  })

  it('processed: stops at the action state the ledger’s batches processed', async () => {
    const chain = [...funded, { updates: [[action(ActionKind.deposit, USER, { amount: 50n })]] }]
    const s = sources(chain, archiveData(funded))
    // The node's latest action state is past the deposit; the ledger processed up to `funded`.
    s.node = async () => ({
      account: {
        actionState: [String(stateAfter(chain))],
        zkappState: [String(stateAfter(funded)), ...Array(7).fill('0')],
      },
    })
    const r = await readLedgerBook(s, LEDGER, terms, { processed: true })
    expect(r.book.fundable(USER)).toBe(70n)
    expect(r.settledJobs).toBe(3n)
    expect(r.actionState).toBe(stateAfter(funded))
    // A ledger that processed nothing reads empty, without the archive.
    s.node = async () => ({
      account: {
        actionState: [String(stateAfter(chain))],
        zkappState: [String(EMPTY_ACTION_STATE)],
      },
    })
    s.archive = async () => {
      throw new Error('not asked')
    }
    expect((await readLedgerBook(s, LEDGER, terms, { processed: true })).settledJobs).toBe(0n)
  })

  it('a ledger with no actions reads as an empty book without asking the archive', async () => {
    const s = sources([])
    s.archive = async () => {
      throw new Error('not asked')
    }
    const r = await readLedgerBook(s, LEDGER, terms)
    expect(r.book.fundable(USER)).toBe(0n)
    expect(r.settledJobs).toBe(0n)
  })

  it('an action whose user does not decode is ignored, not fatal, and touches no channel', async () => {
    const bogus = action(ActionKind.deposit, USER, { amount: 5n })
    bogus[2] = 2n // isOdd is not a bit
    const chain = [...funded, { updates: [[bogus]] }]
    const r = await readLedgerBook(sources(chain), LEDGER, terms)
    expect(r.ignored).toBe(1)
    expect(r.book.fundable(USER)).toBe(70n)
  })

  it('an archive that drops, alters, reorders or adds an action is refused', async () => {
    const chain = [
      ...funded,
      { updates: [[action(ActionKind.requestWithdraw, USER, { nonce: 2n, slot: 9n })]] },
    ]
    // Dropped: hiding the withdrawal request would admit a user whose deposit is leaving.
    expect(await refused(readLedgerBook(sources(chain, archiveData(funded)), LEDGER, terms))).toBe(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
    )
    // Altered: a bigger deposit.
    const altered = archiveData(funded)
    altered.actions[0]!.actionData[0]!.data[3] = '1000'
    expect(await refused(readLedgerBook(sources(funded, altered), LEDGER, terms))).toBe(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
    )
    // Reordered within a block (sequence numbers swapped).
    const reordered = archiveData(funded)
    const [x, y] = reordered.actions[1]!.actionData
    x!.transactionInfo.sequenceNumber = 1
    y!.transactionInfo.sequenceNumber = 0
    expect(await refused(readLedgerBook(sources(funded, reordered), LEDGER, terms))).toBe(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
    )
    // Added: a deposit the chain never saw.
    const added = archiveData([
      ...funded,
      { updates: [[action(ActionKind.deposit, USER, { amount: 9n })]] },
    ])
    expect(await refused(readLedgerBook(sources(funded, added), LEDGER, terms))).toBe(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
    )
  })

  it('a failed transaction’s actions do not count', async () => {
    const data = archiveData(funded)
    const listed = archiveData([
      ...funded,
      { updates: [[action(ActionKind.deposit, USER, { amount: 500n })]] },
    ])
    const extra = listed.actions[2]!
    extra.actionData[0]!.transactionInfo.status = 'failed'
    data.actions.push(extra)
    const r = await readLedgerBook(sources(funded, data), LEDGER, terms)
    expect(r.book.fundable(USER)).toBe(70n)
  })

  it('refuses malformed answers with MALFORMED_ACTIONS', async () => {
    const cases: unknown[] = [
      null,
      { actions: 'x' },
      { actions: [{ actionData: 'x' }] },
      { actions: [{ actionData: [{ data: 'x' }] }] },
    ]
    const bad = (mutate: (d: ReturnType<typeof archiveData>) => void) => {
      const d = archiveData(funded)
      mutate(d)
      cases.push(d)
    }
    bad((d) => d.actions[0]!.actionData[0]!.data.pop()) // 7 fields
    bad((d) => d.actions[0]!.actionData[0]!.data.push('0')) // 9 fields
    bad((d) => {
      d.actions[0]!.actionData[0]!.data[3] = '-1'
    })
    bad((d) => {
      d.actions[0]!.actionData[0]!.data[3] = '0x10'
    })
    bad((d) => {
      d.actions[0]!.actionData[0]!.data[3] = String(FIELD_MODULUS)
    })
    bad((d) => {
      d.actions[0]!.actionData[0]!.data[3] = '1'.repeat(200)
    })
    for (const data of cases) {
      expect(await refused(readLedgerBook(sources(funded, data), LEDGER, terms))).toBe(
        LedgerReadErrorCode.MALFORMED_ACTIONS,
      )
    }
  })

  it('refuses more actions than the bound before hashing any', () => {
    const many = {
      actions: [{ actionData: Array.from({ length: 11 }, () => ({ data: 'not even a list' })) }],
    }
    let err: unknown
    try {
      parseLedgerActions(many, 0n, EMPTY_ACTION_STATE, 10)
    } catch (e) {
      err = e
    }
    expect((err as LedgerReadError).code).toBe(LedgerReadErrorCode.TOO_MANY_ACTIONS)
  })

  it('a node without the ledger, or an unreachable archive, is a typed error', async () => {
    const none = sources(funded)
    none.node = async () => ({ account: null })
    expect(await refused(readLedgerBook(none, LEDGER, terms))).toBe(LedgerReadErrorCode.NO_LEDGER)
    const plain = sources(funded)
    plain.node = async () => ({ account: { actionState: null, zkappState: null } })
    expect(await refused(readLedgerBook(plain, LEDGER, terms))).toBe(LedgerReadErrorCode.NO_LEDGER)
    const down = sources(funded)
    down.archive = async () => {
      throw new TypeError('fetch failed')
    }
    expect(await refused(readLedgerBook(down, LEDGER, terms))).toBe(
      LedgerReadErrorCode.ARCHIVE_UNAVAILABLE,
    )
  })
})

// An archive that honours `fromActionState` (exclusive) and `endActionState` as the archive API
// does (an action state it does not hold is an error), over a chain the test can grow or fork;
// it counts the actions it lists, the node answers the chain's latest action state.
function followedChain(initial: Block[]) {
  const chain = { blocks: initial, listed: 0, lie: null as null | ((data: unknown) => unknown) }
  const states = () => {
    let s = EMPTY_ACTION_STATE
    return chain.blocks.map((b) => {
      for (const u of b.updates) s = nextActionState(s, u)
      return s
    })
  }
  const node: GraphqlQuery = async () => ({
    account: {
      actionState: [String(stateAfter(chain.blocks)), '0', '0', '0', '0'],
      zkappState: Array(8).fill('0'),
    },
  })
  const archive: GraphqlQuery = async (document) => {
    const from = /fromActionState: "(\d+)"/.exec(document)?.[1]
    const end = /endActionState: "(\d+)"/.exec(document)?.[1]
    const after = states().map(String)
    const first = from === undefined ? 0 : after.indexOf(from) + 1
    const last = end === undefined ? after.length : after.indexOf(end) + 1
    if (first === 0 && from !== undefined) throw new Error(`fromActionState ${from} is unknown`)
    if (last === 0) throw new Error(`endActionState ${end} is unknown`)
    const all = archiveData(chain.blocks).actions
    const data = { actions: all.slice(first, last) }
    chain.listed += data.actions.reduce((n, b) => n + b.actionData.length, 0)
    return chain.lie ? chain.lie(data) : data
  }
  return { chain, sources: { node, archive } }
}

const deposits = (n: number, user = USER): Block[] =>
  Array.from({ length: n }, () => ({
    updates: [[action(ActionKind.deposit, user, { amount: 1n })]],
  }))

describe('incremental ledger reads', () => {
  it('continues a kept reading with only the new actions, and equals a whole read', async () => {
    const { chain, sources: s } = followedChain([...funded])
    const first = await readLedgerBookFrom(s, LEDGER, terms, null)
    expect(first).toMatchObject({ complete: true, rebuilt: false, listed: 3, folded: 3 })
    chain.blocks.push(...deposits(2, OTHER))
    chain.listed = 0
    const next = await readLedgerBookFrom(s, LEDGER, terms, first.reading)
    expect(next).toMatchObject({ complete: true, rebuilt: false, listed: 2, folded: 2 })
    expect(chain.listed).toBe(2)
    expect([...next.touched]).toEqual([OTHER])
    const whole = await readLedgerBook(s, LEDGER, terms)
    expect(next.reading.book.toJSON()).toEqual(whole.book.toJSON())
    expect(next.reading.runnerPaid).toBe(30n)
    // The kept reading is left as it was (the increment folds into a copy).
    expect(first.reading.book.fundable(OTHER)).toBe(1n)
    expect(next.reading.book.fundable(OTHER)).toBe(3n)
    // Nothing new: no archive query at all.
    chain.listed = 0
    const same = await readLedgerBookFrom(s, LEDGER, terms, next.reading)
    expect(same).toMatchObject({ complete: true, listed: 0, folded: 0 })
  })

  it('refuses an increment the archive forged, and rebuilding from a lying archive fails too', async () => {
    const { chain, sources: s } = followedChain([...funded])
    const first = await readLedgerBookFrom(s, LEDGER, terms, null)
    chain.blocks.push({
      updates: [[action(ActionKind.requestWithdraw, USER, { nonce: 2n, slot: 5n })]],
    })
    // The archive hides the withdrawal request, whatever it is asked.
    chain.lie = () => ({ actions: [] })
    expect(await refused(readLedgerBookFrom(s, LEDGER, terms, first.reading))).toBe(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
    )
    // It turns the request into a deposit on the increment only: the rebuild from empty is honest.
    chain.lie = (data) => {
      const d = data as ReturnType<typeof archiveData>
      if (d.actions.length !== 1) return d
      d.actions[0]!.actionData[0]!.data = action(ActionKind.deposit, USER, { amount: 1n }).map(
        String,
      )
      return d
    }
    const healed = await readLedgerBookFrom(s, LEDGER, terms, first.reading)
    expect(healed).toMatchObject({ complete: true, rebuilt: true })
    expect(healed.reading.book.fundable(USER)).toBe(0n)
  })

  it('rebuilds from empty when the node’s state is not reachable from the kept one (a reorg)', async () => {
    const { chain, sources: s } = followedChain([...funded, ...deposits(2)])
    const first = await readLedgerBookFrom(s, LEDGER, terms, null)
    expect(first.reading.book.fundable(USER)).toBe(72n)
    // The last two blocks are orphaned; another block lands in their place.
    chain.blocks = [...funded, ...deposits(1, OTHER)]
    const after = await readLedgerBookFrom(s, LEDGER, terms, first.reading)
    expect(after).toMatchObject({ complete: true, rebuilt: true, folded: 4 })
    expect(after.reading.book.fundable(USER)).toBe(70n)
    expect(after.reading.book.fundable(OTHER)).toBe(2n)
  })

  it('catches a backlog up over several capped reads, complete only at the node’s state', async () => {
    const { chain, sources: s } = followedChain(deposits(25))
    let kept = null
    const seen: boolean[] = []
    for (let i = 0; i < 3; i++) {
      const p = await readLedgerBookFrom(s, LEDGER, terms, kept, { max: 10 })
      seen.push(p.complete)
      expect(p.folded).toBeLessThanOrEqual(10)
      kept = p.reading
    }
    expect(seen).toEqual([false, false, true])
    expect(kept?.book.fundable(USER)).toBe(25n)
    expect(chain.listed).toBe(25 + 15 + 5)
  })

  it('says which list hashes each read folded and the state after each: the chain a keeper stores', async () => {
    const { sources: s } = followedChain(deposits(25))
    const steps: { list: bigint; state: bigint }[] = []
    let kept = null
    for (let i = 0; i < 3; i++) {
      const p = await readLedgerBookFrom(s, LEDGER, terms, kept, { max: 10 })
      expect(p.lists).toHaveLength(p.folded)
      steps.push(...p.lists)
      kept = p.reading
      expect(steps.at(-1)?.state).toBe(p.reading.actionState)
    }
    // Together the reads' steps are the ledger's chain from its first action: each state is the
    // one before pushed with the list.
    let state = EMPTY_ACTION_STATE
    for (const step of steps) {
      state = pushListHash(state, step.list)
      expect(step.state).toBe(state)
    }
    expect(steps).toHaveLength(25)
    expect(state).toBe(kept?.actionState)
  })

  it('stops at a block’s end, never inside one, and only after the cap is reached', () => {
    const blocks: Block[] = Array.from({ length: 3 }, () => ({
      updates: [0, 1, 2].map(() => [action(ActionKind.deposit, USER, { amount: 1n })]),
    }))
    const walk = walkLedgerActions(archiveData(blocks), { limit: 4 })
    expect(walk).toMatchObject({ done: false, state: stateAfter(blocks.slice(0, 2)) })
    expect(walk.actions).toHaveLength(6)
    expect(walkLedgerActions(archiveData(blocks), { limit: 9 }).done).toBe(true)
  })

  it('progress a lying archive forged in a capped read never completes; the honest rebuild does', async () => {
    const { chain, sources: s } = followedChain(deposits(25))
    // The first capped read is fed a forged first block (10 credits, not 1).
    chain.lie = (data) => {
      const d = data as ReturnType<typeof archiveData>
      d.actions[0]!.actionData[0]!.data = action(ActionKind.deposit, USER, { amount: 10n }).map(
        String,
      )
      return d
    }
    const forged = await readLedgerBookFrom(s, LEDGER, terms, null, { max: 10 })
    expect(forged.complete).toBe(false)
    chain.lie = null
    let kept = forged.reading
    let last = forged
    for (let i = 0; i < 4 && !last.complete; i++) {
      last = await readLedgerBookFrom(s, LEDGER, terms, kept, { max: 10 })
      kept = last.reading
    }
    expect(last.complete).toBe(true)
    expect(kept.book.fundable(USER)).toBe(25n)
  })

  it('a reading survives JSON storage exactly, and a corrupt one is refused', async () => {
    const { sources: s } = followedChain([...funded])
    const { reading } = await readLedgerBookFrom(s, LEDGER, terms, null)
    const stored = JSON.parse(JSON.stringify(ledgerReadingToJSON(reading)))
    const back = ledgerReadingFromJSON(terms, stored)
    expect(back).toEqual(reading)
    expect(back.book).toBeInstanceOf(LedgerBook)
    expect(() => ledgerReadingFromJSON(terms, { ...stored, runnerPaid: '-1' })).toThrow(TypeError)
    expect(() =>
      ledgerReadingFromJSON(terms, {
        ...stored,
        book: { actions: 1, channels: [[USER, ['1']]] },
      }),
    ).toThrow(TypeError)
  })

  it('one pass gives the whole and where the chain passed the processed state', () => {
    const blocks = [...funded, ...deposits(2)]
    const processed = stateAfter(funded.slice(0, 1))
    const r = parseLedgerActionsMarked(archiveData(blocks), stateAfter(blocks), {
      mark: processed,
    })
    expect(r.actions).toHaveLength(5)
    expect(r.markedAt).toBe(1)
    expect(
      parseLedgerActionsMarked(archiveData(blocks), stateAfter(blocks), { mark: 12345n }).markedAt,
    ).toBeNull()
  })
})

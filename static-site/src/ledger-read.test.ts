import { describe, expect, it } from 'vitest'
import {
  ActionKind,
  EMPTY_ACTION_STATE,
  encodeTerms,
  generateMinaKeyPair,
  LedgerReadErrorCode,
  nextActionState,
  publicKeyToFields,
  unwrap,
} from '../../protocol/index.ts'
import { type ChannelSources, readChannel } from './ledger-read.ts'

// The channel reader against a fake node and archive: the archive answers each query up to the
// endActionState it names, unless told to lie. Two anchors: the account's action state (every
// landed action) and the action state in the ledger's own state (the processed prefix).

const USER = generateMinaKeyPair().publicKey
const SERVICE = generateMinaKeyPair().publicKey
const LEDGER_X = unwrap(publicKeyToFields(generateMinaKeyPair().publicKey))[0]
const terms = { pricePerJob: 5n, withdrawTimelockSlots: 40n }

const action = (kind: number, o: { amount?: bigint; nonce?: bigint; count?: bigint } = {}) => {
  const [x, isOdd] = unwrap(publicKeyToFields(USER))
  return [BigInt(kind), x, isOdd, o.amount ?? 0n, o.nonce ?? 0n, 0n, 7n, o.count ?? 0n]
}

/** One account update each: a deposit (processed), then a runner's claim (not yet). */
const updates = [
  [action(ActionKind.deposit, { amount: 20n })],
  [action(ActionKind.settle, { amount: 5n, nonce: 1n, count: 1n })],
]
const states: bigint[] = []
for (const u of updates) states.push(nextActionState(states.at(-1) ?? EMPTY_ACTION_STATE, u))

function archiveUpTo(end: bigint, lie?: 'drop-last' | 'ignore-end') {
  let n = lie === 'ignore-end' ? updates.length : states.indexOf(end) + 1
  if (lie === 'drop-last') n = Math.max(0, n - 1)
  let s = EMPTY_ACTION_STATE
  // Ignoring the end, it lists one more action than the node holds.
  const listed =
    lie === 'ignore-end' ? [...updates, [action(ActionKind.deposit, { amount: 1n })]] : updates
  return {
    actions: listed.slice(0, lie === 'ignore-end' ? listed.length : n).map((u, i) => {
      const before = s
      s = nextActionState(s, u)
      return {
        blockInfo: { height: i + 1 },
        actionState: { actionStateOne: String(s), actionStateTwo: String(before) },
        actionData: u.map((data) => ({
          accountUpdateId: String(100 + i),
          data: data.map(String),
          transactionInfo: {
            status: 'applied',
            sequenceNumber: 0,
            zkappAccountUpdateIds: [100 + i],
          },
        })),
      }
    }),
  }
}

function sources(
  lie?: 'drop-last' | 'ignore-end' | 'off-chain-processed',
  queries: string[] = [],
): ChannelSources {
  const ledgerState = Array(8).fill(0n)
  ledgerState[0] = lie === 'off-chain-processed' ? 12345n : states[0]!
  ledgerState[3] = encodeTerms(terms)
  const serviceState = Array(8).fill(0n)
  serviceState[6] = LEDGER_X
  return {
    node: async () => ({
      account: {
        actionState: [String(states.at(-1)), '0', '0', '0', '0'],
        zkappState: ledgerState.map(String),
      },
    }),
    archive: async (document) => {
      queries.push(document)
      const end = BigInt(/endActionState: "(\d+)"/.exec(document)![1]!)
      return archiveUpTo(end, lie === 'off-chain-processed' ? undefined : lie)
    },
    serviceState: async () => serviceState,
    balance: async () => 0n,
    currentSlot: async () => 100n,
  }
}

describe('readChannel', () => {
  it('folds every landed action and the processed prefix, each anchored on chain, from one archive answer', async () => {
    const queries: string[] = []
    const r = await readChannel(sources(undefined, queries), SERVICE, USER)
    expect(queries).toHaveLength(1)
    expect(r.all).toMatchObject({ deposited: 20n, paidSoFar: 5n })
    expect(r.committed).toMatchObject({ deposited: 20n, paidSoFar: 0n })
    expect(r.pendingActions).toBe(1)
    expect(r.terms).toEqual(terms)
    expect(r.slot).toBe(100n)
  })

  it.each([
    ['drops the runner’s pending claim', 'drop-last'],
    ['answers with more actions than the node holds', 'ignore-end'],
    ['is asked for a ledger whose processed state its actions never pass', 'off-chain-processed'],
  ] as const)('fails closed when the archive %s', async (_what, lie) => {
    await expect(readChannel(sources(lie), SERVICE, USER)).rejects.toMatchObject({
      code: LedgerReadErrorCode.ACTION_STATE_MISMATCH,
    })
  })
})

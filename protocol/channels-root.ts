import { keyHash } from './genuine-service.ts'
import type { BookChannel, LedgerBook } from './ledger-book.ts'
import { poseidonUpdate } from './poseidon.ts'

// The root of a ChannelLedger's channels map (contracts' ChannelMap, an o1js IndexedMerkleMap of
// height CHANNELS_MAP_HEIGHT) rebuilt from a book, without o1js: so every reader, the Worker
// included, can check that a ledger's channelsRoot is what its processed actions give from an
// EMPTY map, and not a map its key holder wrote before the freeze. o1js's layout: leaf i is the
// i-th inserted key (leaf 0 the map's own key 0), hashed as Poseidon(key, value, nextKey) where
// nextKey is the next larger key (0 after the largest); empty subtrees hash from 0; the root is
// Poseidon(internal root, number of leaves). Cost: about two Poseidon hashes per user.
// contracts' ledger-solvency test holds it equal to `bookMap(book).root` on a LocalBlockchain.

/** Height of the channels map (contracts' CHANNEL_MAP_HEIGHT; contracts test holds it equal). */
export const CHANNELS_MAP_HEIGHT = 20

const hash = (xs: readonly bigint[]): bigint => poseidonUpdate([0n, 0n, 0n], xs)[0]

/** A LedgerChannel's map value (o1js `Poseidon.hash(LedgerChannel.toFields(ch))`). */
export function ledgerChannelHash(ch: BookChannel): bigint {
  return hash([
    ch.paidSoFar,
    ch.voucherNonce,
    ch.withdrawRequestedAtSlot,
    ch.resultsRoot,
    ch.resultsCount,
    ch.closeNonce,
    ch.deposited,
    ch.refunded,
  ])
}

let emptyNodes: bigint[] | null = null
function emptyNode(level: number): bigint {
  if (!emptyNodes) {
    emptyNodes = [0n]
    for (let i = 1; i < CHANNELS_MAP_HEIGHT; i++)
      emptyNodes.push(hash([emptyNodes[i - 1]!, emptyNodes[i - 1]!]))
  }
  return emptyNodes[level]!
}

/**
 * The root of an IndexedMerkleMap holding `entries` (key → value), inserted in this order into an
 * empty map. Null when a key repeats, is 0, or the map would overflow its height.
 */
export function indexedMapRoot(entries: readonly (readonly [bigint, bigint])[]): bigint | null {
  const keys = entries.map(([k]) => k)
  if (entries.length + 1 > 2 ** (CHANNELS_MAP_HEIGHT - 1)) return null
  const sorted = [0n, ...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const next = new Map<bigint, bigint>()
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) return null
    next.set(sorted[i]!, sorted[i + 1] ?? 0n)
  }
  let level: bigint[] = [[0n, 0n] as const, ...entries].map(([k, v]) => hash([k, v, next.get(k)!]))
  for (let l = 0; l < CHANNELS_MAP_HEIGHT - 1; l++) {
    const up: bigint[] = []
    for (let i = 0; i < level.length; i += 2)
      up.push(hash([level[i]!, level[i + 1] ?? emptyNode(l)]))
    level = up
  }
  return hash([level[0]!, BigInt(entries.length + 1)])
}

/**
 * The channels root a ledger commits to once `book`'s actions are processed from an empty map
 * (users in the order of their first action, as processBatch inserts them). Null when the book
 * cannot be a map (a user's key repeats: a hash collision, or too many users).
 */
export function channelsRootOf(book: LedgerBook): bigint | null {
  const entries: [bigint, bigint][] = []
  for (const user of book.users()) {
    const key = keyHash(user)
    if (key === null) return null
    entries.push([key, ledgerChannelHash(book.get(user))])
  }
  return indexedMapRoot(entries)
}

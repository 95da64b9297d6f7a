import {
  ActionKind,
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  type LedgerReading,
  nextActionState,
  type ServiceTerms,
} from '../../protocol/index.ts'
import { type ChainEvent, chainOrder } from '../chain-reader.ts'

// A ChannelLedger as the tests need it: its Claim events are what the runner landed, and its
// actions follow from them (each claimed user's deposit first, large enough for every claim, then
// one settle action per Claim event on the chain), so a test states a settlement once, as events.

/** ChannelLedger's Claim event type index (Batch 0, Claim 1). */
export const CLAIM_EVENT = 1n
/** What each claimed user deposited before their first claim (the double's escrow holds it all). */
export const DEPOSIT = 10n ** 15n
const ON_CHAIN = new Set(['canonical', 'pending'])

/** Claim event data: user (x, isOdd), amount, nonce, root, count, leaves CID fields. */
export const claimData = (
  user: readonly [bigint, bigint],
  c: { amount: bigint; nonce: bigint; root: bigint; count: bigint; cid: readonly [bigint, bigint] },
): bigint[] => [
  CLAIM_EVENT,
  user[0],
  user[1],
  c.amount,
  c.nonce,
  c.root,
  c.count,
  c.cid[0],
  c.cid[1],
]

/** The ledger's actions (fields, dispatch order) its Claim events imply. */
export function actionsOfClaims(events: readonly { data: bigint[]; chainStatus?: string }[]) {
  const out: bigint[][] = []
  const funded = new Set<string>()
  const ordered = [...events]
    .map((e, i) => ({ height: 0, sequence: 0, index: i, slot: 0, chainStatus: 'canonical', ...e }))
    .sort((a, b) => chainOrder(a as ChainEvent, b as ChainEvent))
  for (const e of ordered) {
    if (!ON_CHAIN.has(e.chainStatus)) continue
    const [kind, ux, uOdd, amount, nonce, root, count] = e.data
    if (kind !== CLAIM_EVENT || e.data.length !== 9) continue
    if (ux === undefined || uOdd === undefined || amount === undefined || nonce === undefined)
      continue
    const user = `${ux}:${uOdd}`
    if (!funded.has(user)) {
      funded.add(user)
      out.push([BigInt(ActionKind.deposit), ux, uOdd, DEPOSIT, 0n, 0n, 0n, 0n])
    }
    out.push([BigInt(ActionKind.settle), ux, uOdd, amount, nonce, 0n, root ?? 0n, count ?? 0n])
  }
  return out
}

/** The action state after `actions`, one account update each. */
export const actionStateOf = (actions: readonly bigint[][]): bigint =>
  actions.reduce((s, a) => nextActionState(s, [a]), EMPTY_ACTION_STATE)

/** A `ledgerBook` for chain fakes: the book its Claim events imply, every action processed. */
export const claimsBook =
  (events: () => readonly ChainEvent[] | Promise<readonly ChainEvent[]>) =>
  async (_ledger: string, terms: ServiceTerms): Promise<LedgerReading> => {
    const actions = actionsOfClaims(await events())
    return foldLedgerActions(actions, terms, actionStateOf(actions))
  }

/** A `ledgerBook` for chain fakes with no claim: every channel empty. */
export const emptyBook = async (_ledger: string, terms: ServiceTerms): Promise<LedgerReading> =>
  foldLedgerActions([], terms, EMPTY_ACTION_STATE)

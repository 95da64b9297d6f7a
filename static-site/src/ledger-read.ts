import {
  decodeTerms,
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  type GraphqlQuery,
  LedgerState,
  ledgerActionStateQuery,
  ledgerActionsQuery,
  ledgerAddressOf,
  parseLedgerActions,
  parseLedgerHead,
  receiptTokenIdOf,
  unwrap,
} from '../../protocol/index.ts'
import { SiteError, SiteErrorCode } from './errors.ts'
import type { ChannelReading } from './ledger-channel.ts'

// Reads a user's channel in a service's ChannelLedger from the node and the archive, on the main
// thread (no o1js): protocol's ledger reader accepts the archive's actions only when they hash to
// an action state the node holds for the ledger, so a lying or lagging archive fails the read
// and the page shows no amounts. Two prefixes are read that way: every landed action (up to the
// account's action state) and the processed ones (up to the action state in the ledger's own
// app state, what its channels root commits to), each folded with protocol's LedgerBook.

/** Where the reading comes from: the node (trusted for state), the archive (checked), the slot. */
export interface ChannelSources {
  node: GraphqlQuery
  archive: GraphqlQuery
  /** The service's app state (its ledger's address is in it). */
  serviceState(service: string): Promise<readonly bigint[] | null>
  /** A balance under a token (0 for no account). */
  balance(owner: string, tokenId: string): Promise<bigint>
  currentSlot(): Promise<bigint>
}

async function actionsUpTo(archive: GraphqlQuery, ledger: string, end: bigint) {
  if (end === EMPTY_ACTION_STATE) return []
  return parseLedgerActions(await archive(ledgerActionsQuery(ledger, end)), end)
}

/** The user's channel as the chain proves it; throws (LedgerReadError, SiteError) otherwise. */
export async function readChannel(
  src: ChannelSources,
  service: string,
  user: string,
): Promise<ChannelReading> {
  const state = await src.serviceState(service)
  const ledger = state ? ledgerAddressOf(state) : null
  if (!ledger) throw new SiteError(SiteErrorCode.CHAIN_UNAVAILABLE, 'the service names no ledger')
  const [head, slot] = await Promise.all([
    src.node(ledgerActionStateQuery(ledger)).then(parseLedgerHead),
    src.currentSlot(),
  ])
  const terms = decodeTerms(head.zkappState[LedgerState.terms] ?? 0n)
  const processed = head.zkappState[LedgerState.actionState] ?? EMPTY_ACTION_STATE
  const [all, done, pulled] = await Promise.all([
    actionsUpTo(src.archive, ledger, head.actionState),
    actionsUpTo(src.archive, ledger, processed),
    src.balance(user, unwrap(receiptTokenIdOf(ledger))),
  ])
  // Both lists are anchored to the chain's own hashes; the processed one is a prefix of the other.
  if (done.length > all.length || done.some((a, i) => a.join() !== all[i]!.join()))
    throw new SiteError(
      SiteErrorCode.CHAIN_UNAVAILABLE,
      "the ledger's processed actions are not a prefix of its actions",
    )
  const allBook = foldLedgerActions(all, terms, head.actionState).book
  const doneBook = foldLedgerActions(done, terms, processed).book
  return {
    user,
    ledger,
    terms,
    all: allBook.get(user),
    committed: doneBook.get(user),
    pulled,
    pendingActions: all.length - done.length,
    slot,
  }
}

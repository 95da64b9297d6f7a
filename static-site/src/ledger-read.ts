import {
  decodeTerms,
  EMPTY_ACTION_STATE,
  foldLedgerActions,
  foldLedgerActionsOnto,
  type GraphqlQuery,
  LedgerReadError,
  LedgerReadErrorCode,
  LedgerState,
  ledgerActionStateQuery,
  ledgerActionsQuery,
  ledgerAddressOf,
  parseLedgerActionsMarked,
  parseLedgerHead,
  receiptTokenIdOf,
  unwrap,
} from '../../protocol/index.ts'
import { SiteError, SiteErrorCode } from './errors.ts'
import type { ChannelReading } from './ledger-channel.ts'

// Reads a user's channel in a service's ChannelLedger from the node and the archive, on the main
// thread (no o1js): protocol's ledger reader accepts the archive's actions only when they hash to
// an action state the node holds for the ledger, so a lying or lagging archive fails the read
// and the page shows no amounts. Two prefixes are read from one archive answer and one hashing
// pass: every landed action (up to the account's action state) and the processed ones (up to the
// action state in the ledger's own app state, what its channels root commits to: where the
// checked hash chain passes it), each folded with protocol's LedgerBook.

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

/**
 * Every landed action up to `end` (the account's action state), checked, and how many of them
 * lead to `processed` (the ledger's own action state), from one archive query and one hashing pass.
 */
async function actionsAndProcessed(
  archive: GraphqlQuery,
  ledger: string,
  end: bigint,
  processed: bigint,
): Promise<{ all: bigint[][]; done: number }> {
  const notPassed = () =>
    new LedgerReadError(
      LedgerReadErrorCode.ACTION_STATE_MISMATCH,
      "the ledger's processed action state is not on its actions' hash chain",
    )
  if (end === EMPTY_ACTION_STATE) {
    if (processed !== EMPTY_ACTION_STATE) throw notPassed()
    return { all: [], done: 0 }
  }
  const { actions, markedAt } = parseLedgerActionsMarked(
    await archive(ledgerActionsQuery(ledger, end)),
    end,
    { mark: processed },
  )
  // The processed state is one the chain's own hashes pass, or the reading is refused.
  if (markedAt === null) throw notPassed()
  return { all: actions, done: markedAt }
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
  const [{ all, done }, pulled] = await Promise.all([
    actionsAndProcessed(src.archive, ledger, head.actionState, processed),
    src.balance(user, unwrap(receiptTokenIdOf(ledger))),
  ])
  // The processed prefix folded, then the rest onto a copy of it: one fold of each action.
  const doneReading = foldLedgerActions(all.slice(0, done), terms, processed)
  const doneBook = doneReading.book
  const allBook = foldLedgerActionsOnto(doneReading, all.slice(done), head.actionState).book
  return {
    user,
    ledger,
    terms,
    all: allBook.get(user),
    committed: doneBook.get(user),
    pulled,
    pendingActions: all.length - done,
    slot,
  }
}

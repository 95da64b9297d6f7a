import { AccountUpdate, fetchAccount, Mina, PublicKey, TokenId } from 'o1js'
import { ledgerOf } from '../../../contracts/client.ts'
import { readLedgerBooks } from '../../../contracts/ledger-book.ts'
import type { ChannelReading } from '../ledger-channel.ts'

// Reads a user's channel in a service's ChannelLedger for the page, failing closed: the books are
// folded (protocol's LedgerBook, through contracts' readLedgerBooks) only from actions that end
// at the ledger's own action state on chain, and whose processed prefix rebuilds its channels
// root. An archive that drops, adds or reorders an action (a runner's claim, a withdrawal) makes
// the read fail; it never shows other amounts.

const { Actions } = AccountUpdate

/**
 * The number of actions the archive lists for `ledger`, once their hash chain from the empty
 * action state is checked to end at the action state the node holds for the account. o1js checks
 * each block's actions against the archive's own claim only.
 */
async function anchoredActionCount(ledger: PublicKey): Promise<number> {
  const fetched = await fetchAccount({ publicKey: ledger })
  if (fetched.error) throw new Error(`the ledger ${ledger.toBase58()} is not on chain`)
  const onChain = Mina.getAccount(ledger).zkapp?.actionState[0]
  if (!onChain) throw new Error('not a ledger: no zkApp account')
  const lists = await Mina.fetchActions(ledger)
  if ('error' in lists)
    throw new Error(`the archive lists no actions: ${JSON.stringify(lists.error)}`)
  let state = Actions.emptyActionState()
  let count = 0
  for (const list of lists) {
    state = Actions.updateSequenceState(state, Actions.fromJSON(list.actions).hash)
    count += list.actions.length
  }
  if (!state.equals(onChain).toBoolean())
    throw new Error(
      "the archive's actions of the ledger do not end at its action state on chain (missing or forged actions): amounts not shown",
    )
  return count
}

/** The user's channel, read and checked; `slot` is the chain's current slot (the page reads it). */
export async function readChannel(
  service: PublicKey,
  user: PublicKey,
  slot: bigint,
): Promise<ChannelReading> {
  const ledger = await ledgerOf(service)
  // Two reads of the archive (the anchor check, the books): an action landing between them is
  // a retry, not a mismatch.
  for (let attempt = 0; attempt < 3; attempt++) {
    const anchored = await anchoredActionCount(ledger)
    const books = await readLedgerBooks(ledger)
    if (books.all.actions !== anchored) continue
    const receipts = TokenId.derive(ledger)
    const held = await fetchAccount({ publicKey: user, tokenId: receipts })
    const pulled = held.error ? 0n : Mina.getBalance(user, receipts).toBigInt()
    const u = user.toBase58()
    return {
      user: u,
      ledger: ledger.toBase58(),
      terms: books.all.terms,
      all: books.all.get(u),
      committed: books.committed.get(u),
      pulled,
      pendingActions: books.all.actions - books.committed.actions,
      slot,
    }
  }
  throw new Error('the ledger kept changing while it was read: try again')
}

import {
  decodeTerms,
  fieldsToCid,
  holdsServiceState,
  type LedgerReading,
  ledgerAddressOf,
  ServiceState,
} from '../protocol/index.ts'
import { type ChainEvent, type ChainReader, chainOrder } from './chain-reader.ts'
import { VerifyError, VerifyErrorCode } from './errors.ts'
import { fieldsToPublicKey } from './mina-address.ts'

// What the chain says a user's settlements paid, from the service's ChannelLedger. The channel is
// the ledger's own book up to the actions its batches processed (protocol's readLedgerBook with
// processBatch's rules, checked against the ledger's action states), so a claim the batch skipped
// (stale voucher, above the deposit, no new results) never counts, and an archive that hides or
// invents a claim is refused. The Claim event of the claim the channel holds names what the
// action does not: the voucher amount the user signed and the leaves document's CID.

/** o1js numbers a contract's event types by their sorted names: ChannelLedger's Batch, Claim. */
const LEDGER_CLAIM = 1n

/** A user's channel as its settlements left it: jobs covered so far and their results root. */
export interface Settlement {
  /**
   * The cumulative amount of the latest settled voucher: what the user is proven to owe at least
   * (the ledger settles only a voucher the user signed, so the user once signed this amount).
   */
  cumulativeAmount: bigint
  /** The channel's voucher nonce: every later voucher needs a higher one. */
  nonce: bigint
  /** Jobs paid for over all of the user's settlements (the channel's results count). */
  jobs: bigint
  /** The results root of the latest settlement: it covers every settled job. */
  resultsRoot: bigint
  /**
   * CID of the SettledLeaves document the runner signed with that root (its leaf list), or null
   * when no Claim event names it or its two fields do not decode to a CID.
   */
  leavesCid: string | null
  height: number
  /** The archive's status of the claim's block (`canonical` or `pending`; `unknown` without one). */
  chainStatus: string
}

// Blocks of the chain the archive follows: final (`canonical`) or on the best chain but not yet
// final (`pending`). An `orphaned` block lost a fork: its claims never happened.
const ON_CHAIN = new Set(['canonical', 'pending'])

/**
 * The user's settlement from the ledger's processed book and its events (any order), or null if
 * no claim of theirs was applied. The Claim event is the newest one on the chain carrying the
 * channel's root and count (the claim that set them; a replay of it was skipped and changed
 * nothing), preferring the one at the channel's nonce.
 */
export function settlementOf(
  reading: LedgerReading,
  events: readonly ChainEvent[],
  user: string,
): Settlement | null {
  const channel = reading.book.get(user)
  if (channel.resultsCount === 0n) return null
  let claim: { e: ChainEvent; amount: bigint; nonce: bigint } | null = null
  for (const e of [...events].sort(chainOrder)) {
    if (!ON_CHAIN.has(e.chainStatus)) continue
    // ClaimEvent: user (x, isOdd), cumulativeAmount, nonce, resultsRoot, resultsCount, leavesCid0, leavesCid1.
    const [kind, ux, uOdd, amount, nonce, root, count] = e.data
    if (kind !== LEDGER_CLAIM || e.data.length !== 9) continue
    if (ux === undefined || uOdd === undefined || amount === undefined || nonce === undefined)
      continue
    if (root !== channel.resultsRoot || count !== channel.resultsCount) continue
    if (fieldsToPublicKey(ux, uOdd) !== user) continue
    if (claim && claim.nonce === channel.voucherNonce && nonce !== channel.voucherNonce) continue
    claim = { e, amount, nonce }
  }
  const c0 = claim?.e.data[7]
  const c1 = claim?.e.data[8]
  const cid = c0 === undefined || c1 === undefined ? null : fieldsToCid([c0, c1])
  return {
    // Without its Claim event, what the channel paid is still an amount the user signed at least.
    cumulativeAmount: claim?.amount ?? channel.paidSoFar,
    nonce: channel.voucherNonce,
    jobs: channel.resultsCount,
    resultsRoot: channel.resultsRoot,
    leavesCid: cid?.ok ? cid.value.toString() : null,
    height: claim?.e.height ?? 0,
    chainStatus: claim?.e.chainStatus ?? 'unknown',
  }
}

/**
 * Reads `user`'s settlement with the service whose state is `serviceState`: the state names its
 * ledger, whose processed book and events decide. Null when the service names no ledger or
 * nothing of the user's was settled; throws VerifyError CHAIN_UNAVAILABLE when the chain cannot be
 * read or checked.
 */
export async function settlementFor(
  chain: Pick<ChainReader, 'events' | 'ledgerBook'>,
  serviceState: readonly bigint[],
  user: string,
): Promise<Settlement | null> {
  const ledger = ledgerAddressOf(serviceState)
  if (!ledger) return null
  const terms = decodeTerms(serviceState[ServiceState.terms] ?? 0n)
  const [reading, events] = await Promise.all([
    chain.ledgerBook(ledger, terms, { processed: true }),
    chain.events(ledger),
  ])
  return settlementOf(reading, events, user)
}

/** `settlementFor` the service at `service`, its state read first. */
export async function readSettlement(
  chain: Pick<ChainReader, 'events' | 'ledgerBook' | 'zkappState'>,
  service: string,
  user: string,
): Promise<Settlement | null> {
  const state = await chain.zkappState(service)
  if (!holdsServiceState(state))
    throw new VerifyError(VerifyErrorCode.CHAIN_UNAVAILABLE, `no service contract at ${service}`)
  return settlementFor(chain, state, user)
}

import { Field, PublicKey, Struct, UInt32, UInt64 } from 'o1js'

/** Credits locked for `beneficiary` (receipts minted to them), paid by `payer` (a sponsor or themselves). */
export class DepositEvent extends Struct({
  payer: PublicKey,
  beneficiary: PublicKey,
  amount: UInt64,
}) {}

/** A user's channel as it now stands; replaying these rebuilds the channels map off chain. */
export class ChannelEvent extends Struct({
  user: PublicKey,
  paidSoFar: UInt64,
  voucherNonce: UInt64,
  withdrawRequestedAtSlot: UInt32,
  resultsRoot: Field,
  resultsCount: UInt32,
  closeNonce: UInt64,
}) {}

/**
 * The runner was paid `paid` = price × `jobs`, the payable results newly added to the user's
 * results tree (now `resultsCount` leaves), with the voucher at `nonce`. `leavesCid0`/`leavesCid1`
 * are `cidToFields` of the SettledLeaves document whose digests give `resultsRoot`. New fields go
 * last: readers decode the event by position.
 */
export class SettleEvent extends Struct({
  user: PublicKey,
  cumulativeAmount: UInt64,
  nonce: UInt64,
  paid: UInt64,
  jobs: UInt64,
  resultsRoot: Field,
  leavesCid0: Field,
  leavesCid1: Field,
  resultsCount: UInt32,
}) {}

/** A user asked for the unspent deposit back; the timelock counts from `atSlot`. */
export class WithdrawRequestEvent extends Struct({ user: PublicKey, atSlot: UInt32 }) {}

/** A user got `refunded` credits back and as many receipts were burnt. */
export class WithdrawEvent extends Struct({ user: PublicKey, refunded: UInt64 }) {}

/** The runner showed it was alive at `slot`. */
export class HeartbeatEvent extends Struct({ slot: UInt32 }) {}

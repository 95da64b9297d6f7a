import { Field, IndexedMerkleMap, Poseidon, PublicKey, Struct, UInt32, UInt64 } from 'o1js'

/** Height of the channels map: room for 2^(height-1) users a service version. */
export const CHANNEL_MAP_HEIGHT = 20

/** The channels map of a service: user key → Channel hash (see `channelKey`, `Channel.hash`). */
export class ChannelMap extends IndexedMerkleMap(CHANNEL_MAP_HEIGHT) {}

/** One user's payment channel with a service, as committed in the channels map. */
export class Channel extends Struct({
  /** Credits the runner has been paid so far (= the last settled voucher's cumulative amount). */
  paidSoFar: UInt64,
  /** Nonce of the last settled voucher; only higher nonces settle. */
  voucherNonce: UInt64,
  /** Slot from which the withdrawal timelock counts; 0 when no withdrawal is pending. */
  withdrawRequestedAtSlot: UInt32,
  /** Root of the user's settled job results tree (see results-tree.ts). */
  resultsRoot: Field,
  /** Leaves of that tree: the payable results settled so far; each paid exactly one price. */
  resultsCount: UInt32,
  /**
   * The highest voucher nonce the user signed before asking to withdraw (user-signed with the
   * request). The withdrawal raises voucherNonce to it, so no voucher from before the withdrawal
   * settles afterwards, not even against a later deposit; 0 when no withdrawal is pending.
   */
  closeNonce: UInt64,
}) {
  /** A channel that never settled nor asked to withdraw. */
  static override empty(): Channel {
    return new Channel({
      paidSoFar: UInt64.zero,
      voucherNonce: UInt64.zero,
      withdrawRequestedAtSlot: UInt32.zero,
      resultsRoot: Field(0),
      resultsCount: UInt32.zero,
      closeNonce: UInt64.zero,
    })
  }

  /** The map value: Poseidon of every field, in declaration order. */
  hash(): Field {
    return Poseidon.hash(Channel.toFields(this))
  }
}

/** The map key of a user: Poseidon(user.toFields()), one Field as the map needs. */
export function channelKey(user: PublicKey): Field {
  return Poseidon.hash(user.toFields())
}

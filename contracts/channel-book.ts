import { Field, PublicKey, UInt32, UInt64 } from 'o1js'
import { Channel, ChannelMap, channelKey } from './channel.ts'
import type { ChannelEvent } from './service-events.ts'

/**
 * The off-chain copy of a service's channels map, kept by whoever sends settle / withdraw
 * transactions. Rebuild it from the contract's Channel events with `fromEvents`.
 */
export class ChannelBook {
  readonly map = new ChannelMap()
  private readonly channels = new Map<string, Channel>()

  /** The user's current channel (the empty one if the user never settled nor withdrew). */
  get(user: PublicKey): Channel {
    return this.channels.get(user.toBase58()) ?? Channel.empty()
  }

  /** Records a channel that is now on chain. */
  apply(user: PublicKey, channel: Channel): void {
    this.map.set(channelKey(user), channel.hash())
    this.channels.set(user.toBase58(), channel)
  }

  /** A copy of the map to pass to a method (methods mutate their argument). */
  snapshot(): ChannelMap {
    return this.map.clone() as ChannelMap
  }

  /** The root the contract must hold if this book is current. */
  get root(): Field {
    return this.map.root
  }

  /** Rebuilds a book from the Channel events of a service, oldest first. */
  static fromEvents(events: readonly ChannelEvent[]): ChannelBook {
    const book = new ChannelBook()
    for (const e of events) {
      book.apply(
        e.user,
        new Channel({
          paidSoFar: UInt64.from(e.paidSoFar),
          voucherNonce: UInt64.from(e.voucherNonce),
          withdrawRequestedAtSlot: UInt32.from(e.withdrawRequestedAtSlot),
          resultsRoot: e.resultsRoot,
          resultsCount: UInt32.from(e.resultsCount),
          closeNonce: UInt64.from(e.closeNonce),
        }),
      )
    }
    return book
  }
}

import { type StatusQuery, statusQueryExpiry, statusQueryMessage } from '../../../protocol/index.ts'
import type { Wallet } from './wallet.ts'

const held = new WeakMap<Wallet, Promise<StatusQuery>>()

/**
 * The wallet's signed status query, which the Worker asks for before it shows the user's funding
 * (`GET /v1/services/:address?user=&expires=&signature=`). One signature covers every service
 * for its few minutes: the page asks the wallet again only once it is about to expire.
 */
export function statusQueryFor(wallet: Wallet): Promise<StatusQuery> {
  const now = Math.floor(Date.now() / 1000)
  const cached = held.get(wallet)
  if (cached) {
    const fresh = cached.then((q) => (q.expires - 30 > now ? q : null)).catch(() => null)
    return fresh.then((q) => q ?? sign(wallet, now))
  }
  return sign(wallet, now)
}

function sign(wallet: Wallet, now: number): Promise<StatusQuery> {
  const q = { user: wallet.publicKey, expires: statusQueryExpiry(now) }
  const signed = wallet.signFields(statusQueryMessage(q)).then((signature) => ({ ...q, signature }))
  held.set(wallet, signed)
  return signed
}

import { STATUS_QUERY_DOMAIN } from './domains.ts'
import { fail, ok, ProtocolErrorCode, type Result, unwrap } from './errors.ts'
import { publicKeyToFields } from './mina-key.ts'
import { signFields, verifyFields } from './signature.ts'

/**
 * The longest a signed status query may live: a query seen by someone else (a log, a proxy)
 * reads the user's funding only until it expires.
 */
export const STATUS_QUERY_MAX_SECONDS = 300

/**
 * A user's short-lived permission to read their own funding (deposit, owed, latest voucher) from
 * the Worker: `GET /v1/services/:address?user=&expires=&signature=`. It names no service, so one
 * wallet prompt covers the page's whole service list; it names the user and an expiry (Unix
 * seconds), and its domain keeps it from passing as any other signed message.
 */
export interface StatusQuery {
  user: string
  /** Unix seconds after which the Worker refuses it. */
  expires: number
  signature: string
}

/** The Field sequence a status query signs. */
export function statusQueryMessage(q: { user: string; expires: number }): bigint[] {
  const [ux, uOdd] = unwrap(publicKeyToFields(q.user))
  return [STATUS_QUERY_DOMAIN, ux, uOdd, BigInt(q.expires)]
}

/** The expiry a new status query gets: the longest allowed, a few seconds short for clock skew. */
export const statusQueryExpiry = (nowSeconds = Math.floor(Date.now() / 1000)) =>
  nowSeconds + STATUS_QUERY_MAX_SECONDS - 10

/** Signs a status query with the user's key (a wallet signs `statusQueryMessage` the same way). */
export function signStatusQuery(
  q: { user: string; expires: number },
  privateKey: string,
): StatusQuery {
  return { ...q, signature: signFields(statusQueryMessage(q), privateKey) }
}

/**
 * Checks a status query at `nowSeconds`: signed by `user`, not expired, and not valid for longer
 * than STATUS_QUERY_MAX_SECONDS from now (a far expiry would be a standing read permission).
 */
export function verifyStatusQuery(q: StatusQuery, nowSeconds: number): Result<true> {
  if (!Number.isSafeInteger(q.expires) || q.expires <= nowSeconds)
    return fail(ProtocolErrorCode.INVALID_FIELD, 'the status query has expired', ['expires'])
  if (q.expires > nowSeconds + STATUS_QUERY_MAX_SECONDS)
    return fail(
      ProtocolErrorCode.INVALID_FIELD,
      `a status query lives at most ${STATUS_QUERY_MAX_SECONDS} s`,
      ['expires'],
    )
  const r = verifyFields(statusQueryMessage(q), q.signature, q.user)
  return r.ok ? ok(true) : fail(r.error.code, r.error.message, ['signature'])
}

/** The query string of a signed status query (`?user=…&expires=…&signature=…`). */
export const statusQueryString = (q: StatusQuery) =>
  `?${new URLSearchParams({ user: q.user, expires: String(q.expires), signature: q.signature })}`

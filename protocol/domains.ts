import { bytesToBigint } from './digest.ts'

/** A domain tag: the ASCII bytes of `tag` read as one big-endian Field, so no signed message can pass as another kind. */
export function domainTag(tag: string): bigint {
  if (tag.length > 31) throw new RangeError('a domain tag fits in 31 bytes')
  return bytesToBigint(new TextEncoder().encode(tag))
}

/** First field of every voucher message. */
export const VOUCHER_DOMAIN = domainTag('zkrunner/voucher/v1')
/** First field of every signed result manifest. */
export const MANIFEST_DOMAIN = domainTag('zkrunner/manifest/v1')
/** First field of every runner heartbeat. */
export const HEARTBEAT_DOMAIN = domainTag('zkrunner/heartbeat/v1')
/** First field of every settlement batch the runner signs (v2: it names the number of results). */
export const SETTLE_DOMAIN = domainTag('zkrunner/settle/v2')
/** First field of every leaf of a results tree: a leaf names its service, user and manifest. */
export const RESULT_LEAF_DOMAIN = domainTag('zkrunner/result-leaf/v1')
/** First field of every service registration the operator signs. */
export const REGISTRATION_DOMAIN = domainTag('zkrunner/registration/v1')
/** First field of every result report the runner posts to the Worker. */
export const RESULT_REPORT_DOMAIN = domainTag('zkrunner/result-report/v1')
/** First field of every retirement of a service version the operator signs. */
export const RETIREMENT_DOMAIN = domainTag('zkrunner/retirement/v1')
/** First field of every status query a user signs to read their own funding from the Worker. */
export const STATUS_QUERY_DOMAIN = domainTag('zkrunner/status-query/v1')
/** First field of every sponsorship a sponsor signs: the limits under which its pool pays for jobs. */
export const SPONSORSHIP_DOMAIN = domainTag('zkrunner/sponsorship/v1')
/** First field of every request a user signs to run a job a sponsor's pool pays for. */
export const SPONSORED_REQUEST_DOMAIN = domainTag('zkrunner/sponsored-request/v1')

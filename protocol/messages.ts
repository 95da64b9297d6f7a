import { cidToFields } from './cid-fields.ts'
import { digestToFields } from './digest.ts'
import {
  HEARTBEAT_DOMAIN,
  MANIFEST_DOMAIN,
  REGISTRATION_DOMAIN,
  RESULT_LEAF_DOMAIN,
  RESULT_REPORT_DOMAIN,
  RETIREMENT_DOMAIN,
  SETTLE_DOMAIN,
  VOUCHER_DOMAIN,
} from './domains.ts'
import { unwrap } from './errors.ts'
import { publicKeyToFields } from './mina-key.ts'

// The exact Field sequences that are signed. The contracts check the same sequences in circuit,
// so any change here is a protocol version change.

/** What a user signs to owe a service `cumulativeAmount` credits in total, at voucher `nonce`. */
export function voucherMessage(v: {
  service: string
  cumulativeAmount: bigint
  nonce: bigint
}): bigint[] {
  const [sx, sOdd] = unwrap(publicKeyToFields(v.service))
  return [VOUCHER_DOMAIN, sx, sOdd, v.cumulativeAmount, v.nonce]
}

/**
 * What the runner signs to settle a user's jobs whose results Merkle root is `resultsRoot`, a tree
 * of `resultsCount` leaves (the contract pays price × the leaves newly added).
 * `leavesCid` is `cidToFields` of the SettledLeaves document behind that root: signing it means
 * nobody can front-run the runner's settlement with a root-matching transaction pointing elsewhere.
 */
export function settleMessage(s: {
  service: string
  user: string
  resultsRoot: bigint
  resultsCount: bigint
  leavesCid: readonly [bigint, bigint]
  cumulativeAmount: bigint
  nonce: bigint
}): bigint[] {
  const [sx, sOdd] = unwrap(publicKeyToFields(s.service))
  const [ux, uOdd] = unwrap(publicKeyToFields(s.user))
  return [
    SETTLE_DOMAIN,
    sx,
    sOdd,
    ux,
    uOdd,
    s.resultsRoot,
    s.resultsCount,
    s.leavesCid[0],
    s.leavesCid[1],
    s.cumulativeAmount,
    s.nonce,
  ]
}

/**
 * The preimage of one leaf of a user's results tree: the service, the user and the manifest's
 * digest (the manifest names the job), so a leaf of one user, service or job is no leaf of another.
 */
export function resultLeafMessage(l: {
  service: string
  user: string
  digest: Uint8Array
}): bigint[] {
  const [sx, sOdd] = unwrap(publicKeyToFields(l.service))
  const [ux, uOdd] = unwrap(publicKeyToFields(l.user))
  const [hi, lo] = unwrap(digestToFields(l.digest))
  return [RESULT_LEAF_DOMAIN, sx, sOdd, ux, uOdd, hi, lo]
}

/** What the runner signs to show it is alive at `slot`. */
export function heartbeatMessage(h: { service: string; slot: bigint }): bigint[] {
  const [sx, sOdd] = unwrap(publicKeyToFields(h.service))
  return [HEARTBEAT_DOMAIN, sx, sOdd, h.slot]
}

/** What the runner signs over a result manifest's SHA-256 digest. */
export function manifestMessage(digest: Uint8Array): bigint[] {
  const [hi, lo] = unwrap(digestToFields(digest))
  return [MANIFEST_DOMAIN, hi, lo]
}

/** What an operator signs to register a service version with the Worker (digest of the registration body). */
export function registrationMessage(digest: Uint8Array): bigint[] {
  const [hi, lo] = unwrap(digestToFields(digest))
  return [REGISTRATION_DOMAIN, hi, lo]
}

/**
 * What an operator signs to retire a service version with the Worker: the service and the moment
 * (ms since the epoch), so a retirement captured once cannot be replayed much later.
 */
export function retirementMessage(r: { service: string; at: number }): bigint[] {
  const [x, isOdd] = unwrap(publicKeyToFields(r.service))
  return [RETIREMENT_DOMAIN, x, isOdd, BigInt(r.at)]
}

/**
 * What the runner signs to report a job's result to the Worker. It names the service, the job and
 * the bundle, so a genuine report cannot be replayed onto another job (or another service's job)
 * to lock out that job's real result.
 */
export function resultReportMessage(r: {
  service: string
  jobId: string
  bundleCid: string
  manifestDigest: Uint8Array
  /** The payable rule's verdict on the report's exit code, signal and not-run marker. */
  payable: boolean
}): bigint[] {
  const [sx, sOdd] = unwrap(publicKeyToFields(r.service))
  // A job id is 128 bits: it fits one field.
  const job = BigInt(`0x${r.jobId}`)
  const [c0, c1] = unwrap(cidToFields(r.bundleCid))
  const [hi, lo] = unwrap(digestToFields(r.manifestDigest))
  return [RESULT_REPORT_DOMAIN, sx, sOdd, job, c0, c1, hi, lo, r.payable ? 1n : 0n]
}

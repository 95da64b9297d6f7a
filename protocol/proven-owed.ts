import { parseVoucher, type Voucher, verifyVoucher } from './voucher.ts'

// What a requester (the page, the local stack) may sign for its next job. A server reports what
// the user owes a service, but a server can be faulty, compromised or dishonest, and a voucher
// for `reported + price` would hand it up to the whole deposit. So the amount signed is never a
// server's number: it is the largest amount the user is proven to have committed, plus one price.
// Proof is (a) the latest voucher the Worker returns, checked here against the user's own key,
// this service and a signature; (b) the requester's own record of what it signed; (c) what the
// service settled on chain. A voucher that does not prove anything is ignored, and said so.

/** What the requester knows when it is about to sign a voucher for one more job. */
export interface OwedEvidence {
  /** The user's own public key: the voucher must be signed by it. */
  user: string
  /** This service's address: a voucher for any other service proves nothing here. */
  service: string
  /** One job's price, from the service's descriptor. */
  price: bigint
  /** The latest voucher the Worker returned with the user's funding (untrusted, any shape). */
  reported?: unknown
  /** The amount the Worker reports as owed (untrusted; only shown, never signed). */
  reportedOwed?: bigint | undefined
  /** The last voucher this requester signed itself (its own record), if it kept one. */
  ownRecord?: { cumulativeAmount: bigint; nonce: bigint } | undefined
  /** The amount the service settled for this user on chain. */
  settled: bigint
  /** The nonce of the voucher settled on chain, when known: the next nonce is above it. */
  settledNonce?: bigint | undefined
}

/**
 * Where the amount came from: proven evidence, or the Worker's own figure where it is lower than
 * what is proven (`released`: jobs it released as not charged, which the user then never signs).
 */
export type OwedSource = 'voucher' | 'own-record' | 'settled' | 'released'

/** The next voucher's terms and what the user should be shown before they confirm. */
export interface NextVoucher {
  /** The amount owed before this job: proven, or the Worker's lower figure (never above proven). */
  provenOwed: bigint
  /** Which evidence proved it (the largest). */
  source: OwedSource
  /** The amount to sign: provenOwed + price, never more. */
  cumulativeAmount: bigint
  /** One above every nonce seen in proven evidence. */
  nonce: bigint
  /** The verified voucher the Worker returned, when it proved anything. */
  voucher?: Voucher
  /** Why the Worker's figure was not used, in words for the user; absent when it was proven. */
  warning?: string
}

/** The reported voucher when it is the user's own, for this service, signed; else why not. */
function proof(reported: unknown, user: string, service: string): Voucher | string {
  const parsed = parseVoucher(reported)
  if (!parsed.ok) return 'the Worker’s voucher is malformed'
  const v = parsed.value
  if (v.user !== user) return 'the Worker’s voucher is not yours'
  if (v.service !== service) return 'the Worker’s voucher is for another service'
  if (!verifyVoucher(v).ok) return 'the Worker’s voucher is not signed by your key'
  return v
}

/**
 * The voucher terms a requester may sign next: the largest proven amount plus one price, with a
 * warning when the Worker's voucher is missing or proves nothing, or its reported figure is more
 * than what is proven.
 */
export function nextVoucher(e: OwedEvidence): NextVoucher {
  let provenOwed = e.settled
  let source: OwedSource = 'settled'
  let nonce = e.settledNonce ?? 0n
  let voucher: Voucher | undefined
  let warning: string | undefined
  if (e.ownRecord) {
    if (e.ownRecord.cumulativeAmount >= provenOwed) {
      provenOwed = e.ownRecord.cumulativeAmount
      source = 'own-record'
    }
    if (e.ownRecord.nonce > nonce) nonce = e.ownRecord.nonce
  }
  if (e.reported === undefined || e.reported === null) {
    warning = 'the Worker returned no voucher of yours'
  } else {
    const v = proof(e.reported, e.user, e.service)
    if (typeof v === 'string') warning = v
    else {
      const amount = BigInt(v.cumulativeAmount)
      if (amount >= provenOwed) {
        provenOwed = amount
        source = 'voucher'
      }
      if (BigInt(v.nonce) > nonce) nonce = BigInt(v.nonce)
      voucher = v
    }
  }
  // The Worker lowers what is owed when it releases a job that did not run to an end, and the
  // user's latest voucher still counts that job. A lower figure can only cost the runner, never
  // the user, so it is taken (never below what was settled): released jobs stay out of every
  // later voucher instead of riding along in its ceiling.
  if (e.reportedOwed !== undefined && e.reportedOwed >= e.settled && e.reportedOwed < provenOwed) {
    provenOwed = e.reportedOwed
    source = 'released'
  }
  if (warning !== undefined) {
    warning = `${warning}: using your own record and the amount settled on chain`
  } else if (e.reportedOwed !== undefined && e.reportedOwed > provenOwed) {
    warning = `the Worker reports ${e.reportedOwed} owed, but your vouchers prove only ${provenOwed}`
  }
  return {
    provenOwed,
    source,
    cumulativeAmount: provenOwed + e.price,
    nonce: nonce + 1n,
    ...(voucher ? { voucher } : {}),
    ...(warning ? { warning } : {}),
  }
}

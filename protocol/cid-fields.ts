import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 as sha256Hasher } from 'multiformats/hashes/sha2'
import { bigintToBytes, bytesToBigint } from './digest.ts'
import { fail, ok, ProtocolErrorCode, type Result } from './errors.ts'

const TWO_64 = 1n << 64n
const TWO_128 = 1n << 128n

/** Parses a CID string; any CID version or codec. */
export function parseCid(text: string): Result<CID> {
  try {
    return ok(CID.parse(text))
  } catch {
    return fail(ProtocolErrorCode.UNSUPPORTED_CID, `not a CID: ${text.slice(0, 80)}`)
  }
}

/** Multicodec codes of the only CIDs zkrunner reads or puts on chain: raw blocks and UnixFS (dag-pb). */
export const CONTENT_CODECS: ReadonlySet<number> = new Set([0x55, 0x70])

/**
 * Parses the CID of content zkrunner reads: raw or dag-pb, sha2-256, and nothing but the CID (a
 * `?format=` or a `/path` would make a gateway answer other bytes than the ones the CID names).
 */
export function parseContentCid(text: string): Result<CID> {
  const parsed = parseCid(text)
  if (!parsed.ok) return parsed
  const c = parsed.value
  if (!CONTENT_CODECS.has(c.code))
    return fail(
      ProtocolErrorCode.UNSUPPORTED_CID,
      `codec 0x${c.code.toString(16)} is not raw or dag-pb`,
    )
  if (c.multihash.code !== sha256Hasher.code || c.multihash.digest.length !== 32)
    return fail(ProtocolErrorCode.UNSUPPORTED_CID, 'only sha2-256 CIDs are read')
  return ok(c)
}

/**
 * A CIDv1 with a sha2-256 multihash as two Fields: (codec << 128 | digest high half, digest low
 * half). Only these CIDs can go on chain, so every other one is refused here, not later.
 */
export function cidToFields(cid: CID | string): Result<[bigint, bigint]> {
  const parsed = typeof cid === 'string' ? parseCid(cid) : ok(cid)
  if (!parsed.ok) return parsed
  const c = parsed.value
  if (c.version !== 1) return fail(ProtocolErrorCode.UNSUPPORTED_CID, 'only CIDv1 goes on chain')
  if (!CONTENT_CODECS.has(c.code))
    return fail(ProtocolErrorCode.UNSUPPORTED_CID, 'only raw and dag-pb CIDs go on chain')
  if (c.multihash.code !== sha256Hasher.code || c.multihash.digest.length !== 32) {
    return fail(ProtocolErrorCode.UNSUPPORTED_CID, 'only sha2-256 CIDs go on chain')
  }
  const d = c.multihash.digest
  const hi = bytesToBigint(d.subarray(0, 16))
  const lo = bytesToBigint(d.subarray(16))
  return ok([(BigInt(c.code) << 128n) | hi, lo])
}

/** The inverse of cidToFields. */
export function fieldsToCid(fields: readonly bigint[]): Result<CID> {
  const [f0, f1] = fields
  if (fields.length !== 2 || f0 === undefined || f1 === undefined) {
    return fail(ProtocolErrorCode.INVALID_FIELDS, 'a CID is exactly two fields')
  }
  const codec = f0 >> 128n
  if (f0 < 0n || codec >= TWO_64 || f1 < 0n || f1 >= TWO_128) {
    return fail(ProtocolErrorCode.INVALID_FIELDS, 'fields out of range for a CID')
  }
  // Whoever writes the fields chooses the codec; a reader fetches only what it can check.
  if (!CONTENT_CODECS.has(Number(codec)))
    return fail(
      ProtocolErrorCode.UNSUPPORTED_CID,
      `codec 0x${codec.toString(16)} is not raw or dag-pb`,
    )
  const digest = new Uint8Array(32)
  digest.set(bigintToBytes(f0 & (TWO_128 - 1n), 16), 0)
  digest.set(bigintToBytes(f1, 16), 16)
  return ok(CID.createV1(Number(codec), createDigest(sha256Hasher.code, digest)))
}

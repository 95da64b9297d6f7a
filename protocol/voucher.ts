import { z } from 'zod'
import { fail, type Result } from './errors.ts'
import { voucherMessage } from './messages.ts'
import { parseWith } from './parse.ts'
import { PublicKeySchema, SignatureSchema, Uint64Schema } from './primitives.ts'
import { signFields, verifyFields } from './signature.ts'

/** A user's signed promise to owe a service `cumulativeAmount` credits in total (never per job: the latest voucher supersedes all earlier ones). */
export const VoucherSchema = z.strictObject({
  v: z.literal(1),
  user: PublicKeySchema,
  /** The service contract's address. */
  service: PublicKeySchema,
  cumulativeAmount: Uint64Schema,
  /** Strictly increasing per user and service: replays of older vouchers are refused. */
  nonce: Uint64Schema,
  signature: SignatureSchema,
})
/** A user's signed payment promise. */
export type Voucher = z.infer<typeof VoucherSchema>
/** A voucher before it is signed. */
export type UnsignedVoucher = Omit<Voucher, 'signature'>

/** Validates an untrusted voucher (shape only; see verifyVoucher). */
export const parseVoucher = (input: unknown): Result<Voucher> => parseWith(VoucherSchema, input)

const messageOf = (v: UnsignedVoucher) =>
  voucherMessage({
    service: v.service,
    cumulativeAmount: BigInt(v.cumulativeAmount),
    nonce: BigInt(v.nonce),
  })

/** Signs a voucher with the user's private key. */
export function signVoucher(v: UnsignedVoucher, userPrivateKey: string): Voucher {
  return { ...v, signature: signFields(messageOf(v), userPrivateKey) }
}

/** Checks the user's signature on a voucher. */
export function verifyVoucher(v: Voucher): Result<true> {
  const r = verifyFields(messageOf(v), v.signature, v.user)
  return r.ok ? r : fail(r.error.code, r.error.message, ['signature'])
}

import {
  digestToFields,
  type Envelope,
  fromBase64url,
  JOB_REQUEST_INFO,
  type JobSubmission,
  newRequestId,
  type ParameterValues,
  parseJobSubmission,
  type RequestBinding,
  type ServiceDescriptor,
  sealJson,
  sha256,
  validateParameters,
  voucherMessage,
} from '../../protocol/index.ts'
import { SiteError, SiteErrorCode } from './errors.ts'
import type { Wallet } from './wallet/wallet.ts'

/** How long a request stays valid: long enough to reach the Worker, short enough to be forgotten. */
export const REQUEST_TTL_SECONDS = 15 * 60

/** Inputs of one job request. */
export interface RequestInput {
  service: string
  descriptor: ServiceDescriptor
  values: ParameterValues
  /** What the user already owes this service (the Worker's `funding.owed`). */
  owed: bigint
  /**
   * The price of one job as the contract's terms hold it: what settlement charges. Never the
   * descriptor's `pricePerJob`, which the contract does not bind to its terms.
   */
  price: bigint
  /** The last voucher nonce this page used with this service (0 if none). */
  lastNonce: bigint
  /** Seconds since the epoch (injectable for tests). */
  now?: number
  /**
   * The service versions above this request when a job calls its driver (the agent's `call`),
   * outermost first; absent for a user's own request. Bound into the request digest.
   */
  callPath?: readonly string[]
}

/**
 * Validates parameters against the service's schema, signs a voucher for what is owed plus one
 * job at the chain's price, and seals request and voucher to the Worker key the descriptor (frozen on chain) names.
 * Nonces are millisecond clock readings, bumped past the last one used, so they only ever grow.
 */
export async function buildSealedRequest(
  input: RequestInput,
  wallet: Wallet,
): Promise<{ envelope: Envelope; submission: JobSubmission; binding: RequestBinding }> {
  const checked = validateParameters(input.descriptor.parameters, input.values)
  if (!checked.ok) throw new SiteError(SiteErrorCode.INVALID_INPUT, checked.error.message)
  const now = input.now ?? Math.floor(Date.now() / 1000)
  const clockNonce = BigInt(Date.now())
  const nonce = clockNonce > input.lastNonce ? clockNonce : input.lastNonce + 1n
  const cumulativeAmount = input.owed + input.price
  const signature = await wallet.signFields(
    voucherMessage({ service: input.service, cumulativeAmount, nonce }),
  )
  const candidate = {
    request: {
      v: 1,
      service: input.service,
      user: wallet.publicKey,
      requestId: newRequestId(),
      parameters: input.values,
      expiresAt: now + REQUEST_TTL_SECONDS,
      ...(input.callPath?.length ? { callPath: [...input.callPath] } : {}),
    },
    voucher: {
      v: 1,
      user: wallet.publicKey,
      service: input.service,
      cumulativeAmount: cumulativeAmount.toString(),
      nonce: nonce.toString(),
      signature,
    },
  }
  const parsed = parseJobSubmission(candidate)
  if (!parsed.ok) throw new SiteError(SiteErrorCode.INVALID_INPUT, parsed.error.message)
  const envelope = await sealJson(input.descriptor.workerPublicKey, JOB_REQUEST_INFO, parsed.value)
  const { requestId, service, user, callPath } = parsed.value.request
  // What the result must answer: the parameters as the Worker passes them to the job.
  const binding = {
    requestId,
    service,
    user,
    parameters: checked.value,
    ...(callPath ? { callPath } : {}),
  }
  return { envelope, submission: parsed.value, binding }
}

/**
 * Poseidon(digestToFields(sha256(Worker HPKE public key))): what the service contract freezes as
 * workerKeyHash. The page compares it before sealing, so a descriptor cannot redirect requests.
 */
export async function workerKeyHashOf(
  workerPublicKey: string,
  poseidon: (fields: bigint[]) => Promise<bigint>,
): Promise<bigint> {
  const fields = digestToFields(sha256(fromBase64url(workerPublicKey)))
  if (!fields.ok) throw fields.error
  return poseidon([...fields.value])
}

import { Field, Poseidon, PublicKey, UInt32, UInt64 } from 'o1js'
import {
  cidToFields,
  digestToFields,
  fromBase64url,
  type ServiceDescriptor,
  sha256,
  sourceCommitmentToField,
  unwrap,
} from '../protocol/index.ts'
import type { ServiceDeployProps } from './service-contract.ts'

/** Poseidon(digestToFields(sha256(Worker HPKE public key))): the value the service freezes. */
export function workerKeyHash(workerPublicKey: string): Field {
  const [hi, lo] = unwrap(digestToFields(sha256(fromBase64url(workerPublicKey))))
  return Poseidon.hash([Field(hi), Field(lo)])
}

/** The parts of a service descriptor a service contract freezes. */
export type ServiceVersionTerms = Pick<
  ServiceDescriptor,
  'sourceCommitment' | 'pricePerJob' | 'runnerPublicKey' | 'workerPublicKey'
>

/**
 * The deploy props of one service version: source commitment, price, runner key and Worker key
 * hash from the descriptor, the descriptor CID, and the withdrawal timelock. Throws a
 * ProtocolError when the CID cannot go on chain.
 */
export function serviceDeployProps(
  terms: ServiceVersionTerms,
  descriptorCid: string,
  withdrawTimelockSlots: number,
): Omit<ServiceDeployProps, 'verificationKey' | 'ledger'> {
  const cid = unwrap(cidToFields(descriptorCid))
  return {
    sourceCommitment: Field(sourceCommitmentToField(terms.sourceCommitment)),
    descriptorCid: [Field(cid[0]), Field(cid[1])],
    pricePerJob: UInt64.from(terms.pricePerJob),
    withdrawTimelockSlots: UInt32.from(withdrawTimelockSlots),
    runner: PublicKey.fromBase58(terms.runnerPublicKey),
    workerKeyHash: workerKeyHash(terms.workerPublicKey),
  }
}

import { Field, Poseidon } from 'o1js'
import {
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  type GenuineCode,
  type ServiceAccounts,
} from '../../protocol/index.ts'

// What the page's tests take for the genuine contracts, and accounts that pass or fail the check.

/** The credit token id the test page is configured with. */
export const TEST_CREDIT_TOKEN_ID = 'xCreditTokenForThePageTestsZ123456789abcdefghijk'

/** The key hashes the test page compares services with. */
export const TEST_GENUINE_CODE: GenuineCode = {
  serviceVkHash: '7001',
  vaultVkHash: '7002',
  txnVersion: '3',
}

/** The `genuine` dependency of verifyResult in tests. */
export const TEST_GENUINE = { creditTokenId: TEST_CREDIT_TOKEN_ID, code: TEST_GENUINE_CODE }

const frozenVk = { auth: 'Impossible' as const, txnVersion: TEST_GENUINE_CODE.txnVersion }

/** A genuine, frozen service with `state` and `escrow` credits in its vault. */
export function genuineAccounts(state: bigint[], escrow = 0n): ServiceAccounts {
  return {
    service: {
      zkappState: state,
      balance: 0n,
      vkHash: BigInt(TEST_GENUINE_CODE.serviceVkHash),
      permissions: { ...FROZEN_SERVICE_PERMISSIONS, setVerificationKey: frozenVk },
    },
    vault: {
      zkappState: null,
      balance: escrow,
      vkHash: BigInt(TEST_GENUINE_CODE.vaultVkHash),
      permissions: { ...FROZEN_VAULT_PERMISSIONS, setVerificationKey: frozenVk },
    },
  }
}

/** Poseidon as the contract hashes (o1js in Node; the page asks its prover worker). */
export const nodePoseidon = async (fields: bigint[]): Promise<bigint> =>
  Poseidon.hash(fields.map((f) => Field(f))).toBigInt()

import { Field, Poseidon } from 'o1js'
import {
  EMPTY_ACTION_STATE,
  FROZEN_LEDGER_PERMISSIONS,
  FROZEN_SERVICE_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  type GenuineCode,
  keyHash,
  LedgerState,
  ledgerAddressOf,
  type ServiceAccounts,
  ServiceState,
} from '../../protocol/index.ts'

// What the page's tests take for the genuine contracts, and accounts that pass or fail the check.

/** The credit token id the test page is configured with. */
export const TEST_CREDIT_TOKEN_ID = 'xCreditTokenForThePageTestsZ123456789abcdefghijk'

/** The key hashes the test page compares services with. */
export const TEST_GENUINE_CODE: GenuineCode = {
  serviceVkHash: '7001',
  ledgerVkHash: '7003',
  ledgerVaultVkHash: '7004',
  txnVersion: '3',
}

/** The `genuine` dependency of verifyResult in tests. */
export const TEST_GENUINE = { creditTokenId: TEST_CREDIT_TOKEN_ID, code: TEST_GENUINE_CODE }

const frozenVk = { auth: 'Impossible' as const, txnVersion: TEST_GENUINE_CODE.txnVersion }

/** A service address for fixtures that do not name one (PrivateKey.fromBigInt(12347n)'s). */
export const FIXTURE_SERVICE = 'B62qqeMgshmq7MYw9wkzQKSSSD4ofrxwAGLoPZz4W3r3M1w2d1qLHqf'

/**
 * The state of the genuine ledger a service with `state` names: the service's terms and runner,
 * bound to `service`.
 */
export function genuineLedgerState(state: readonly bigint[], service: string): bigint[] {
  const ledger = Array<bigint>(8).fill(0n)
  // As deployed (BatchReducer's initial state): no action processed, nothing stacked.
  ledger[LedgerState.actionState] = EMPTY_ACTION_STATE
  ledger[LedgerState.actionStack] = EMPTY_ACTION_STATE
  ledger[LedgerState.terms] = state[ServiceState.terms] ?? 0n
  ledger[LedgerState.runnerKeyHash] = state[ServiceState.runnerKeyHash] ?? 0n
  ledger[LedgerState.serviceKeyHash] = keyHash(service) ?? 0n
  return ledger
}

/** The code and permissions of a genuine ledger and of its vault, as a node reports them. */
export const genuineLedgerCode = {
  ledger: {
    vkHash: BigInt(TEST_GENUINE_CODE.ledgerVkHash),
    permissions: { ...FROZEN_LEDGER_PERMISSIONS, setVerificationKey: frozenVk },
  },
  ledgerVault: {
    vkHash: BigInt(TEST_GENUINE_CODE.ledgerVaultVkHash),
    permissions: { ...FROZEN_VAULT_PERMISSIONS, setVerificationKey: frozenVk },
  },
}

/**
 * A genuine, frozen service with `state` and `escrow` credits in its ledger's vault, at `service`
 * (its ledger, at the address the state names, is bound to it).
 */
export function genuineAccounts(
  state: bigint[],
  escrow = 0n,
  service = FIXTURE_SERVICE,
): ServiceAccounts {
  return {
    serviceAddress: service,
    service: {
      zkappState: state,
      balance: 0n,
      vkHash: BigInt(TEST_GENUINE_CODE.serviceVkHash),
      permissions: { ...FROZEN_SERVICE_PERMISSIONS, setVerificationKey: frozenVk },
    },
    ledgerAddress: ledgerAddressOf(state),
    ledger: {
      zkappState: genuineLedgerState(state, service),
      balance: 0n,
      ...genuineLedgerCode.ledger,
    },
    ledgerVault: { zkappState: null, balance: escrow, ...genuineLedgerCode.ledgerVault },
  }
}

/** What a reader reads at an address with no service. */
export const noAccounts = (service = FIXTURE_SERVICE): ServiceAccounts => ({
  serviceAddress: service,
  service: null,
  ledgerAddress: null,
  ledger: null,
  ledgerVault: null,
})

/** Poseidon as the contract hashes (o1js in Node; the page asks its prover worker). */
export const nodePoseidon = async (fields: bigint[]): Promise<bigint> =>
  Poseidon.hash(fields.map((f) => Field(f))).toBigInt()

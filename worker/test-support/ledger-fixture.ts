import {
  EMPTY_ACTION_STATE,
  FROZEN_LEDGER_PERMISSIONS,
  FROZEN_VAULT_PERMISSIONS,
  indexedMapRoot,
  keyHash,
  LedgerState,
  publicKeyFromFields,
  publicKeyToFields,
  ServiceState,
} from '../../protocol/index.ts'
import { type FakeAccount, TEST_GENUINE_CODE } from './constants.ts'

// A fake service's ChannelLedger as a fake node reports it: at an address of its own, named by
// the service's state (ServiceState.ledger, the x of an even-y key), bound to the service and
// with its terms and runner. Shared by the Worker's tests and its benchmark.

const frozenVk = { auth: 'Impossible', txnVersion: TEST_GENUINE_CODE.txnVersion }

/** The x a fake service's state names for its ledger: one of its own per service. */
export function fixtureLedgerX(service: string): bigint {
  const f = publicKeyToFields(service)
  if (!f.ok) throw f.error
  return f.value[0] + 1n
}

/** The base58 address of a fake service's ledger (the one its state names). */
export function fixtureLedgerAddress(service: string): string {
  const a = publicKeyFromFields(fixtureLedgerX(service), false)
  if (!a) throw new Error('no ledger address')
  return a
}

/** A genuine, frozen ChannelLedger account for `service` with state `serviceState`. */
export function genuineLedger(
  service: string,
  serviceState: readonly (string | bigint)[],
): FakeAccount {
  const state = Array<bigint>(8).fill(0n)
  // As deployed: no action processed, the empty channels map (the solvency check rebuilds both).
  state[LedgerState.actionState] = EMPTY_ACTION_STATE
  state[LedgerState.actionStack] = EMPTY_ACTION_STATE
  state[LedgerState.channelsRoot] = indexedMapRoot([]) ?? 0n
  state[LedgerState.terms] = BigInt(serviceState[ServiceState.terms] ?? 0)
  state[LedgerState.runnerKeyHash] = BigInt(serviceState[ServiceState.runnerKeyHash] ?? 0)
  state[LedgerState.serviceKeyHash] = keyHash(service) ?? 0n
  return {
    zkappState: state.map(String),
    verificationKey: { hash: TEST_GENUINE_CODE.ledgerVkHash },
    permissions: { ...FROZEN_LEDGER_PERMISSIONS, setVerificationKey: frozenVk },
  }
}

/** A genuine LedgerVault account holding `balance` credits. */
export const genuineLedgerVault = (balance = '0'): FakeAccount => ({
  balance,
  verificationKey: { hash: TEST_GENUINE_CODE.ledgerVaultVkHash },
  permissions: { ...FROZEN_VAULT_PERMISSIONS, setVerificationKey: frozenVk },
})

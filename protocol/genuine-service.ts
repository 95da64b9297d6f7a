import { z } from 'zod'
import { decodeTerms, LedgerState, ServiceState } from './chain-layout.ts'
import { publicKeyFromFields, publicKeyToFields } from './mina-key.ts'
import { parseWith } from './parse.ts'
import { poseidonUpdate } from './poseidon.ts'

// "Is this a genuine, frozen zkrunner service?" — decided once, here, for every reader (Worker,
// page, stack, CLI). A service's state alone proves nothing: an operator can deploy the genuine
// ServiceContract without its vault and seed the (service, credit token) account with a plain
// transfer, or deploy a look-alike contract, then move deposits out with the service key. So a
// reader compares both accounts' verification-key hashes with the project's compiled contracts
// and their permissions with the frozen sets below, before it lists, registers, offers a deposit
// or shows a ✓.

/** An authorization requirement as Mina GraphQL names it. */
export type AuthRequired = 'None' | 'Either' | 'Proof' | 'Signature' | 'Impossible'

const AuthRequiredSchema = z.enum(['None', 'Either', 'Proof', 'Signature', 'Impossible'])

/** The permission fields of a Mina account, as GraphQL `permissions { … }` answers them. */
export const AccountPermissionsSchema = z.object({
  editState: AuthRequiredSchema,
  access: AuthRequiredSchema,
  send: AuthRequiredSchema,
  receive: AuthRequiredSchema,
  setDelegate: AuthRequiredSchema,
  setPermissions: AuthRequiredSchema,
  setVerificationKey: z.object({ auth: AuthRequiredSchema, txnVersion: z.string().max(20) }),
  setZkappUri: AuthRequiredSchema,
  editActionState: AuthRequiredSchema,
  setTokenSymbol: AuthRequiredSchema,
  incrementNonce: AuthRequiredSchema,
  setVotingFor: AuthRequiredSchema,
  setTiming: AuthRequiredSchema,
})

/** An account's permissions as GraphQL answers them. */
export type AccountPermissions = z.output<typeof AccountPermissionsSchema>

/** The GraphQL selection every reader asks for, so all of them judge the same fields. */
export const ACCOUNT_CODE_SELECTION =
  'verificationKey { hash } permissions { editState access send receive setDelegate setPermissions setVerificationKey { auth txnVersion } setZkappUri editActionState setTokenSymbol incrementNonce setVotingFor setTiming }'

/**
 * The GraphQL document that reads a service's account `(service, MINA)` with its state. Its
 * ledger's accounts are read next (`ledgerAccountsQuery`), at the address the state names.
 * Inputs are quoted as JSON strings; callers pass validated base58.
 */
export function serviceAccountQuery(service: string): string {
  return `{ service: account(publicKey: ${JSON.stringify(service)}) { zkappState ${ACCOUNT_CODE_SELECTION} } }`
}

const FieldString = z.union([z.string().regex(/^[0-9]{1,80}$/), z.number().int().nonnegative()])

const AccountCodeSchema = z.object({
  zkappState: z.array(FieldString).max(64).nullish(),
  balance: z.object({ total: FieldString }).nullish(),
  verificationKey: z.object({ hash: FieldString }).nullish(),
  permissions: AccountPermissionsSchema.nullish(),
})

/** What a reader learned about one account: null when the account does not exist. */
export interface AccountCode {
  zkappState: bigint[] | null
  balance: bigint
  vkHash: bigint | null
  permissions: AccountPermissions | null
}

/**
 * The accounts a reader judges a service by: the service, and its ledger's two accounts at the
 * address the service froze (null when the service names none or they do not exist).
 */
export interface ServiceAccounts {
  serviceAddress: string
  service: AccountCode | null
  /** Where the ledger accounts were read: `ledgerAddressOf(service state)`. */
  ledgerAddress: string | null
  ledger: AccountCode | null
  ledgerVault: AccountCode | null
}

const toAccountCode = (a: z.output<typeof AccountCodeSchema> | null | undefined) =>
  a
    ? {
        zkappState: a.zkappState ? a.zkappState.map((f) => BigInt(f)) : null,
        balance: a.balance ? BigInt(a.balance.total) : 0n,
        vkHash: a.verificationKey ? BigInt(a.verificationKey.hash) : null,
        permissions: a.permissions ?? null,
      }
    : null

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string }

/** Parses the `data` of `serviceAccountQuery` (an absent account is null). */
export function parseServiceAccount(data: unknown): Parsed<AccountCode | null> {
  const parsed = parseWith(z.object({ service: AccountCodeSchema.nullish() }), data)
  if (!parsed.ok) return { ok: false, message: parsed.error.message }
  return { ok: true, value: toAccountCode(parsed.value.service) }
}

/**
 * Reads every account of a service through `query` (sends a GraphQL document, returns its
 * `data`): the service, then its ledger's accounts at the address its state names. Every reader
 * (Worker, page, stack, CLI) reads through this, so all of them judge the same accounts. A
 * malformed answer is an error (the caller treats the node as unavailable).
 */
export async function readServiceAccountsWith(
  query: (document: string) => Promise<unknown>,
  service: string,
  creditTokenId: string,
): Promise<Parsed<ServiceAccounts>> {
  const svc = parseServiceAccount(await query(serviceAccountQuery(service)))
  if (!svc.ok) return svc
  const state = svc.value?.zkappState
  const ledgerAddress = state ? ledgerAddressOf(state) : null
  if (!ledgerAddress) {
    return {
      ok: true,
      value: {
        serviceAddress: service,
        service: svc.value,
        ledgerAddress,
        ledger: null,
        ledgerVault: null,
      },
    }
  }
  const led = parseLedgerAccounts(await query(ledgerAccountsQuery(ledgerAddress, creditTokenId)))
  if (!led.ok) return led
  return {
    ok: true,
    value: { serviceAddress: service, service: svc.value, ledgerAddress, ...led.value },
  }
}

type Frozen = Omit<AccountPermissions, 'setVerificationKey'>

// Frozen for good except the verification key, which o1js 2.15 can only make impossible "during
// the current transaction version" (it falls back to Signature after a hard fork that bumps it).
const FROZEN_COMMON = {
  editState: 'Proof',
  send: 'Proof',
  receive: 'None',
  setDelegate: 'Impossible',
  setPermissions: 'Impossible',
  setZkappUri: 'Impossible',
  editActionState: 'Impossible',
  setTokenSymbol: 'Impossible',
  incrementNonce: 'Proof',
  setVotingFor: 'Impossible',
  setTiming: 'Impossible',
} as const

/**
 * The permissions of a genuine ServiceContract account (contracts' `frozenServicePermissions`,
 * checked equal by a contracts test). `access: Proof`: with signature access the key holder could
 * mint receipts.
 */
export const FROZEN_SERVICE_PERMISSIONS: Frozen = { ...FROZEN_COMMON, access: 'Proof' }

/**
 * The permissions of a genuine LedgerVault account (contracts' `frozenVaultPermissions`). The
 * credit token approves only accounts that leave `access` open.
 */
export const FROZEN_VAULT_PERMISSIONS: Frozen = { ...FROZEN_COMMON, access: 'None' }

/**
 * The permissions of a genuine ChannelLedger account (contracts' `frozenLedgerPermissions`):
 * the service's, except that its action state moves by proof (every operation is an action).
 */
export const FROZEN_LEDGER_PERMISSIONS: Frozen = {
  ...FROZEN_COMMON,
  editActionState: 'Proof',
  access: 'Proof',
}

/** What a genuine service is compared with: the project's compiled contracts, for one credit token. */
export interface GenuineCode {
  /** Verification-key hash of the compiled ServiceContract (decimal field). */
  serviceVkHash: string
  /** Verification-key hash of the compiled ChannelLedger (decimal field). */
  ledgerVkHash: string
  /** Verification-key hash of the compiled LedgerVault (decimal field). */
  ledgerVaultVkHash: string
  /**
   * The transaction version the network runs (o1js `TransactionVersion.current()` at build time).
   * A frozen verification key is impossible to change only while the account's
   * `setVerificationKey.txnVersion` equals it: after a hard fork it falls back to Signature.
   */
  txnVersion: string
}

/** Schema of `GenuineCode` in configuration files. */
export const GenuineCodeSchema = z.strictObject({
  serviceVkHash: z.string().regex(/^[0-9]{1,80}$/),
  ledgerVkHash: z.string().regex(/^[0-9]{1,80}$/),
  ledgerVaultVkHash: z.string().regex(/^[0-9]{1,80}$/),
  txnVersion: z.string().regex(/^[0-9]{1,10}$/),
})

/** Why a service is not a genuine, frozen zkrunner service. Stable: readers match on them. */
export const UnsafeServiceCode = {
  /** No zkApp at the service address. */
  NO_CONTRACT: 'NO_CONTRACT',
  /** The service account runs other code than the project's ServiceContract. */
  WRONG_CODE: 'WRONG_CODE',
  /** A permission differs from the frozen set (the key holder could change or move something). */
  NOT_FROZEN: 'NOT_FROZEN',
  /** The code freeze was made for another transaction version (after a hard fork it is void). */
  VK_UNFROZEN_BY_UPGRADE: 'VK_UNFROZEN_BY_UPGRADE',
  /**
   * What the ledger owes (the runner's unredeemed pay, users' deposits not yet paid or refunded,
   * refunds not yet pulled, deposits not yet processed) exceeds the credits in escrow
   * (protocol's checkLedgerSolvency).
   */
  RECEIPTS_EXCEED_ESCROW: 'RECEIPTS_EXCEED_ESCROW',
  /**
   * The ledger's channels root is not the root its processed actions give from an empty map: its
   * key holder wrote channels (refunds to pull, say) before the freeze.
   */
  CHANNELS_NOT_REBUILT: 'CHANNELS_NOT_REBUILT',
  /**
   * The ledger's runnerPaid or refunded, or the vault's redeemed, differ from what the processed
   * actions paid: a counter set before the freeze (the runner could redeem credits nobody paid).
   */
  LEDGER_COUNTERS_DIFFER: 'LEDGER_COUNTERS_DIFFER',
  /**
   * The ledger's processed action state, or its BatchReducer stack of pending action lists, is
   * not one its landed actions give: written before the freeze, so that a batch would apply
   * actions nobody dispatched (a refund for an accomplice paid from others' deposits).
   */
  ACTIONS_FORGED: 'ACTIONS_FORGED',
  /** The ledger accounts were read at another address than the one the service froze. */
  LEDGER_NOT_BOUND: 'LEDGER_NOT_BOUND',
  /** No zkApp at the ledger address. */
  NO_LEDGER: 'NO_LEDGER',
  /** The ledger account runs other code than the project's ChannelLedger. */
  WRONG_LEDGER_CODE: 'WRONG_LEDGER_CODE',
  /** No LedgerVault at (ledger, credit token): the escrow is a plain account. */
  NO_LEDGER_VAULT: 'NO_LEDGER_VAULT',
  /** The ledger's escrow account runs other code than the project's LedgerVault. */
  WRONG_LEDGER_VAULT_CODE: 'WRONG_LEDGER_VAULT_CODE',
  /** The ledger's price, timelock or runner differ from the service's. */
  LEDGER_TERMS_DIFFER: 'LEDGER_TERMS_DIFFER',
} as const

/** One of the stable unsafe-service codes. */
export type UnsafeServiceCode = (typeof UnsafeServiceCode)[keyof typeof UnsafeServiceCode]

/** The verdict on a service: genuine and frozen, or unsafe with a code and a sentence. */
export type GenuineVerdict =
  | { genuine: true }
  | { genuine: false; code: UnsafeServiceCode; reason: string }

const unsafe = (code: UnsafeServiceCode, reason: string): GenuineVerdict => ({
  genuine: false,
  code,
  reason,
})

function permissionsDiff(
  actual: AccountPermissions,
  frozen: Frozen,
  expectedTxnVersion: string,
  which: string,
): GenuineVerdict | null {
  for (const [name, auth] of Object.entries(frozen) as [keyof Frozen, AuthRequired][]) {
    if (actual[name] !== auth) {
      return unsafe(
        UnsafeServiceCode.NOT_FROZEN,
        `${which} permission ${name} is ${actual[name]}, not ${auth}`,
      )
    }
  }
  const vk = actual.setVerificationKey
  if (vk.auth !== 'Impossible') {
    return unsafe(
      UnsafeServiceCode.NOT_FROZEN,
      `${which} permission setVerificationKey is ${vk.auth}, not Impossible`,
    )
  }
  if (vk.txnVersion !== expectedTxnVersion) {
    return unsafe(
      UnsafeServiceCode.VK_UNFROZEN_BY_UPGRADE,
      `${which} code was frozen for transaction version ${vk.txnVersion}, the network runs ${expectedTxnVersion}: after a protocol upgrade the key holder can replace the code`,
    )
  }
  return null
}

/**
 * Decides whether a service is the project's genuine, frozen ServiceContract with a genuine,
 * frozen ledger bound to it: verification-key hashes equal the compiled ones and permissions
 * equal the frozen sets (`checkGenuineLedger` for the ledger's part).
 */
export function checkGenuineService(accounts: ServiceAccounts, code: GenuineCode): GenuineVerdict {
  const { service } = accounts
  if (!service || service.vkHash === null || !service.zkappState || !service.permissions) {
    return unsafe(UnsafeServiceCode.NO_CONTRACT, 'no zkApp at the service address')
  }
  if (service.vkHash !== BigInt(code.serviceVkHash)) {
    return unsafe(
      UnsafeServiceCode.WRONG_CODE,
      'the service account does not run the zkrunner ServiceContract',
    )
  }
  const frozen = permissionsDiff(
    service.permissions,
    FROZEN_SERVICE_PERMISSIONS,
    code.txnVersion,
    'service',
  )
  if (frozen) return frozen
  if (!accounts.ledgerAddress) {
    return unsafe(UnsafeServiceCode.NO_LEDGER, 'the service names no settlement ledger')
  }
  return checkGenuineLedger(
    accounts.serviceAddress,
    service.zkappState,
    accounts.ledgerAddress,
    accounts,
    code,
  )
}

/**
 * The address of a service's ChannelLedger, from the service's state: the x coordinate it froze,
 * with an even y (deploy refuses a ledger key with an odd one). Null when the state is too short.
 */
export function ledgerAddressOf(serviceState: readonly bigint[]): string | null {
  const x = serviceState[ServiceState.ledger]
  return x === undefined ? null : publicKeyFromFields(x, false)
}

/** Poseidon(x, isOdd) of a base58 key, as o1js `Poseidon.hash(key.toFields())`; null if malformed. */
export function keyHash(key: string): bigint | null {
  const fields = publicKeyToFields(key)
  return fields.ok ? poseidonUpdate([0n, 0n, 0n], fields.value)[0] : null
}

/** True when `ledger` (base58) can be a service's ledger: its key has an even y. */
export function isLedgerAddress(ledger: string): boolean {
  const fields = publicKeyToFields(ledger)
  return fields.ok && fields.value[1] === 0n
}

/** Both accounts of a service's ChannelLedger, as `ledgerAccountsQuery` reads them. */
export interface LedgerAccounts {
  /** `(ledger, MINA)`: the ChannelLedger with its state. */
  ledger: AccountCode | null
  /** `(ledger, credit token)`: the LedgerVault, whose balance is the escrow. */
  ledgerVault: AccountCode | null
}

/**
 * The one GraphQL document that reads both accounts of a ledger: `(ledger, MINA)` with its state
 * and `(ledger, credit token)` with its balance. Inputs are quoted as JSON strings; callers pass
 * validated base58.
 */
export function ledgerAccountsQuery(ledger: string, creditTokenId: string): string {
  const l = JSON.stringify(ledger)
  const t = JSON.stringify(creditTokenId)
  return `{ ledger: account(publicKey: ${l}) { zkappState ${ACCOUNT_CODE_SELECTION} } ledgerVault: account(publicKey: ${l}, token: ${t}) { balance { total } ${ACCOUNT_CODE_SELECTION} } }`
}

/** Parses the `data` of `ledgerAccountsQuery` (an absent account is null). */
export function parseLedgerAccounts(data: unknown): Parsed<LedgerAccounts> {
  const parsed = parseWith(
    z.object({ ledger: AccountCodeSchema.nullish(), ledgerVault: AccountCodeSchema.nullish() }),
    data,
  )
  if (!parsed.ok) return { ok: false, message: parsed.error.message }
  return {
    ok: true,
    value: {
      ledger: toAccountCode(parsed.value.ledger),
      ledgerVault: toAccountCode(parsed.value.ledgerVault),
    },
  }
}

/**
 * Decides whether `ledger` is the genuine, frozen settlement ledger of `service`, whose state is
 * `serviceState`: the service froze this address (`ledgerAddressOf`) and the ledger froze the
 * service's key hash (both ways bound), both ledger accounts run the
 * compiled ChannelLedger and LedgerVault with the frozen permissions, and the ledger's terms and
 * runner are the service's (a ledger with a lower price or another runner would pay another
 * rule than the one the service shows). Deposits go to the ledger, so a service whose ledger
 * fails is unsafe.
 */
export function checkGenuineLedger(
  service: string,
  serviceState: readonly bigint[],
  ledger: string,
  accounts: LedgerAccounts,
  code: GenuineCode,
): GenuineVerdict {
  if (ledgerAddressOf(serviceState) !== ledger) {
    return unsafe(
      UnsafeServiceCode.LEDGER_NOT_BOUND,
      `the service is not bound to the ledger at ${ledger}`,
    )
  }
  const { ledger: l, ledgerVault: v } = accounts
  if (!l || l.vkHash === null || !l.zkappState || !l.permissions) {
    return unsafe(UnsafeServiceCode.NO_LEDGER, 'no zkApp at the ledger address')
  }
  if (l.vkHash !== BigInt(code.ledgerVkHash)) {
    return unsafe(
      UnsafeServiceCode.WRONG_LEDGER_CODE,
      'the ledger account does not run the zkrunner ChannelLedger',
    )
  }
  if (!v || v.vkHash === null || !v.permissions) {
    return unsafe(
      UnsafeServiceCode.NO_LEDGER_VAULT,
      'no LedgerVault holds the escrow: the ledger key could move deposits',
    )
  }
  if (v.vkHash !== BigInt(code.ledgerVaultVkHash)) {
    return unsafe(
      UnsafeServiceCode.WRONG_LEDGER_VAULT_CODE,
      'the ledger escrow account does not run the zkrunner LedgerVault',
    )
  }
  const frozen =
    permissionsDiff(l.permissions, FROZEN_LEDGER_PERMISSIONS, code.txnVersion, 'ledger') ??
    permissionsDiff(v.permissions, FROZEN_VAULT_PERMISSIONS, code.txnVersion, 'ledger vault')
  if (frozen) return frozen
  const terms = (fields: readonly bigint[], i: number) => decodeTerms(fields[i] ?? 0n)
  const st = terms(serviceState, ServiceState.terms)
  const lt = terms(l.zkappState, LedgerState.terms)
  if (st.pricePerJob !== lt.pricePerJob || st.withdrawTimelockSlots !== lt.withdrawTimelockSlots) {
    return unsafe(
      UnsafeServiceCode.LEDGER_TERMS_DIFFER,
      `the ledger's terms (price ${lt.pricePerJob}, timelock ${lt.withdrawTimelockSlots}) are not the service's (price ${st.pricePerJob}, timelock ${st.withdrawTimelockSlots})`,
    )
  }
  if (l.zkappState[LedgerState.serviceKeyHash] !== keyHash(service)) {
    return unsafe(
      UnsafeServiceCode.LEDGER_NOT_BOUND,
      'the ledger settles for another service: vouchers and results of this one do not settle there',
    )
  }
  if (l.zkappState[LedgerState.runnerKeyHash] !== serviceState[ServiceState.runnerKeyHash]) {
    return unsafe(
      UnsafeServiceCode.LEDGER_TERMS_DIFFER,
      "the ledger pays another runner than the service's",
    )
  }
  return { genuine: true }
}

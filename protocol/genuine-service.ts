import { z } from 'zod'
import { parseWith } from './parse.ts'

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
 * The one GraphQL document that reads both accounts of a service: `(service, MINA)` with its
 * state, and `(service, credit token)` with its balance (the escrow). Inputs are quoted as JSON
 * strings; callers pass validated base58.
 */
export function serviceAccountsQuery(service: string, creditTokenId: string): string {
  const s = JSON.stringify(service)
  const t = JSON.stringify(creditTokenId)
  return `{ service: account(publicKey: ${s}) { zkappState ${ACCOUNT_CODE_SELECTION} } vault: account(publicKey: ${s}, token: ${t}) { balance { total } ${ACCOUNT_CODE_SELECTION} } }`
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

/** Both accounts of a service as read in one query. */
export interface ServiceAccounts {
  service: AccountCode | null
  vault: AccountCode | null
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

/**
 * Parses the `data` of `serviceAccountsQuery`. A malformed answer is an error (the caller treats
 * the node as unavailable); an absent account is null.
 */
export function parseServiceAccounts(
  data: unknown,
): { ok: true; value: ServiceAccounts } | { ok: false; message: string } {
  const parsed = parseWith(
    z.object({ service: AccountCodeSchema.nullish(), vault: AccountCodeSchema.nullish() }),
    data,
  )
  if (!parsed.ok) return { ok: false, message: parsed.error.message }
  return {
    ok: true,
    value: {
      service: toAccountCode(parsed.value.service),
      vault: toAccountCode(parsed.value.vault),
    },
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
 * The permissions of a genuine ServiceVault account (contracts' `frozenVaultPermissions`). The
 * credit token approves only accounts that leave `access` open.
 */
export const FROZEN_VAULT_PERMISSIONS: Frozen = { ...FROZEN_COMMON, access: 'None' }

/** What a genuine service is compared with: the project's compiled contracts, for one credit token. */
export interface GenuineCode {
  /** Verification-key hash of the compiled ServiceContract (decimal field). */
  serviceVkHash: string
  /** Verification-key hash of the compiled ServiceVault (decimal field). */
  vaultVkHash: string
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
  vaultVkHash: z.string().regex(/^[0-9]{1,80}$/),
  txnVersion: z.string().regex(/^[0-9]{1,10}$/),
})

/** Why a service is not a genuine, frozen zkrunner service. Stable: readers match on them. */
export const UnsafeServiceCode = {
  /** No zkApp at the service address. */
  NO_CONTRACT: 'NO_CONTRACT',
  /** The service account runs other code than the project's ServiceContract. */
  WRONG_CODE: 'WRONG_CODE',
  /** No ServiceVault at (service, credit token): the escrow is a plain account. */
  NO_VAULT: 'NO_VAULT',
  /** The vault account runs other code than the project's ServiceVault. */
  WRONG_VAULT_CODE: 'WRONG_VAULT_CODE',
  /** A permission differs from the frozen set (the key holder could change or move something). */
  NOT_FROZEN: 'NOT_FROZEN',
  /** The code freeze was made for another transaction version (after a hard fork it is void). */
  VK_UNFROZEN_BY_UPGRADE: 'VK_UNFROZEN_BY_UPGRADE',
  /** Users' receipts (deposits not yet withdrawn) exceed the credits in escrow. */
  RECEIPTS_EXCEED_ESCROW: 'RECEIPTS_EXCEED_ESCROW',
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
 * Decides whether both accounts of a service are the project's genuine, frozen contracts:
 * verification-key hashes equal the compiled ones and permissions equal the frozen sets.
 */
export function checkGenuineService(accounts: ServiceAccounts, code: GenuineCode): GenuineVerdict {
  const { service, vault } = accounts
  if (!service || service.vkHash === null || !service.zkappState || !service.permissions) {
    return unsafe(UnsafeServiceCode.NO_CONTRACT, 'no zkApp at the service address')
  }
  if (service.vkHash !== BigInt(code.serviceVkHash)) {
    return unsafe(
      UnsafeServiceCode.WRONG_CODE,
      'the service account does not run the zkrunner ServiceContract',
    )
  }
  if (!vault || vault.vkHash === null || !vault.permissions) {
    return unsafe(
      UnsafeServiceCode.NO_VAULT,
      'no ServiceVault holds the escrow: the service key could move deposits',
    )
  }
  if (vault.vkHash !== BigInt(code.vaultVkHash)) {
    return unsafe(
      UnsafeServiceCode.WRONG_VAULT_CODE,
      'the escrow account does not run the zkrunner ServiceVault',
    )
  }
  return (
    permissionsDiff(service.permissions, FROZEN_SERVICE_PERMISSIONS, code.txnVersion, 'service') ??
    permissionsDiff(vault.permissions, FROZEN_VAULT_PERMISSIONS, code.txnVersion, 'vault') ?? {
      genuine: true,
    }
  )
}

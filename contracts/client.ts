import {
  AccountUpdate,
  Bool,
  Field,
  fetchAccount,
  Mina,
  PrivateKey,
  PublicKey,
  Signature,
  TokenId,
  UInt8,
  UInt32,
  UInt64,
} from 'o1js'
import { digestToFields, unwrap } from '../protocol/index.ts'
import { Channel } from './channel.ts'
import type { ChannelBook } from './channel-book.ts'
import { CreditAdmin } from './credit-admin.ts'
import {
  CreditToken,
  creditTokenAddress,
  creditTokenId,
  setCreditTokenAddress,
} from './credit-token.ts'
import { useDummyProofs } from './network.ts'
import {
  type ResultsCountProof,
  type ResultsOwner,
  resultsCountProof,
  resultsRoot,
} from './results-tree.ts'
import {
  ServiceContract,
  type ServiceDeployProps,
  SettleClaim,
  SLOT_WINDOW,
  VoucherFields,
} from './service-contract.ts'
import { ServiceRegistry } from './service-registry.ts'
import { ServiceVault } from './service-vault.ts'
import { decodeServiceState, type ServiceState } from './state-decode.ts'

// Every function here takes the selected Mina instance (LocalBlockchain or Mina.Network) as is,
// builds, proves, signs and sends one transaction, and returns it once sent.

/** Who pays the fee and signs as sender. */
export interface FeePayer {
  key: PrivateKey
  /** Fee in nanomina; 0.1 MINA by default. */
  fee?: number
}

type Pending = Awaited<ReturnType<Mina.Transaction<false, true>['send']>>

const DEFAULT_FEE = 100_000_000

/** Builds and proves a transaction that `sender` pays the fee of; not signed. */
async function proved(sender: PublicKey, fee: number | undefined, body: () => Promise<void>) {
  const tx = await Mina.transaction({ sender, fee: fee ?? DEFAULT_FEE }, body)
  // A Network marked not proving (minaNetwork's `prove: false`): o1js would still prove.
  if (!Mina.getProofsEnabled() && !isLocal()) await useDummyProofs(tx)
  await tx.prove()
  return tx
}

async function run(
  payer: FeePayer,
  signers: PrivateKey[],
  body: () => Promise<void>,
): Promise<Pending> {
  const tx = await proved(payer.key.toPublicKey(), payer.fee, body)
  const pending = await tx.sign([payer.key, ...signers]).send()
  if (pending.status !== 'pending') {
    throw new Error(`transaction rejected: ${JSON.stringify(pending.errors)}`)
  }
  return pending
}

const isLocal = () => 'testAccounts' in Mina.activeInstance

/** True when the account exists (fetched first on a real network). */
export async function accountExists(publicKey: PublicKey, tokenId?: Field): Promise<boolean> {
  if (!isLocal()) await fetchAccount({ publicKey, ...(tokenId ? { tokenId } : {}) })
  return Mina.hasAccount(publicKey, tokenId)
}

/** Fetches the accounts a method reads while proving (no-op on LocalBlockchain). */
async function fetchAll(...accounts: [PublicKey, Field?][]): Promise<void> {
  if (isLocal()) return
  for (const [publicKey, tokenId] of accounts) {
    await fetchAccount({ publicKey, ...(tokenId ? { tokenId } : {}) })
  }
}

/** Deploy arguments of the credit token and its admin. */
export interface DeployCreditTokenArgs {
  /** Key of the token contract account (its address becomes the credit token address). */
  tokenKey: PrivateKey
  /** Key of the admin contract account. */
  adminContractKey: PrivateKey
  /** The key that may mint, pause and resume. */
  admin: PublicKey
  symbol: string
  decimals: number
  /** Link to the source, placed in the token's zkappUri. */
  src: string
}

/** Deploys the credit token and its admin, unpaused, and selects it for the service contracts. */
export async function deployCreditToken(payer: FeePayer, a: DeployCreditTokenArgs) {
  setCreditTokenAddress(a.tokenKey.toPublicKey())
  const token = new CreditToken(a.tokenKey.toPublicKey())
  const adminContract = new CreditAdmin(a.adminContractKey.toPublicKey())
  return run(payer, [a.tokenKey, a.adminContractKey], async () => {
    AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 3)
    await adminContract.deploy({ adminPublicKey: a.admin })
    await token.deploy({ symbol: a.symbol, src: a.src, allowUpdates: false })
    await token.initialize(adminContract.address, UInt8.from(a.decimals), Bool(false))
  })
}

/**
 * Mints credits to `to` (admin signs). The admin's signature is an account update of the admin
 * key on MINA (CreditAdmin), which creates that MINA account if the key has none: the payer
 * funds it then, as it funds the recipient's new credit account.
 */
export async function mintCredits(
  payer: FeePayer,
  adminKey: PrivateKey,
  to: PublicKey,
  amount: bigint,
) {
  const token = new CreditToken(creditTokenAddress())
  const newAccounts =
    Number(!(await accountExists(to, creditTokenId()))) +
    Number(!(await accountExists(adminKey.toPublicKey())))
  await fetchAll([creditTokenAddress()])
  return run(payer, [adminKey], async () => {
    if (newAccounts > 0) AccountUpdate.fundNewAccount(payer.key.toPublicKey(), newAccounts)
    await token.mint(to, UInt64.from(amount))
  })
}

/** Deploys one service version: the ServiceContract and its credit vault, frozen. */
export async function deployService(
  payer: FeePayer,
  serviceKey: PrivateKey,
  props: Omit<ServiceDeployProps, 'verificationKey'>,
) {
  const address = serviceKey.toPublicKey()
  const service = new ServiceContract(address)
  const vault = new ServiceVault(address, creditTokenId())
  const token = new CreditToken(creditTokenAddress())
  return run(payer, [serviceKey], async () => {
    AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 2)
    await service.deploy(props)
    await vault.deploy()
    await token.approveAccountUpdate(vault.self)
  })
}

/** Locks `amount` credits of `payerKey` for `beneficiary` (a sponsor may pay for someone else). */
export async function deposit(
  payer: FeePayer,
  service: PublicKey,
  payerKey: PrivateKey,
  beneficiary: PublicKey,
  amount: bigint,
) {
  const body = await depositBody(
    payer.key.toPublicKey(),
    service,
    payerKey.toPublicKey(),
    beneficiary,
    amount,
  )
  return run(payer, [payerKey], body)
}

/**
 * A deposit proved but not sent: the zkApp command as JSON. `payer` pays both the fee and the
 * credits. Unsigned by default, for a wallet that holds the key and signs and sends itself (Auro's
 * `sendTransaction`); with `signers`, signed by them, for the caller to send.
 */
export async function proveDeposit(
  payer: PublicKey,
  service: PublicKey,
  beneficiary: PublicKey,
  amount: bigint,
  options: { fee?: number; signers?: PrivateKey[] } = {},
): Promise<string> {
  const body = await depositBody(payer, service, payer, beneficiary, amount)
  const tx = await proved(payer, options.fee, body)
  if (options.signers) tx.sign(options.signers)
  return tx.toJSON()
}

async function depositBody(
  feePayer: PublicKey,
  service: PublicKey,
  payer: PublicKey,
  beneficiary: PublicKey,
  amount: bigint,
): Promise<() => Promise<void>> {
  const contract = new ServiceContract(service)
  const isNew = !(await accountExists(beneficiary, receiptTokenId(service)))
  await fetchAll([creditTokenAddress()])
  return async () => {
    if (isNew) AccountUpdate.fundNewAccount(feePayer, 1)
    await contract.deposit(payer, beneficiary, UInt64.from(amount))
  }
}

/** A user's signed voucher as the contract takes it. */
export interface SignedVoucher {
  cumulativeAmount: bigint
  nonce: bigint
  /** Base58 Mina field signature over voucherMessage. */
  signature: string
}

/** A user's results tree as a settlement claims it: its root, its leaf count and the count proof. */
export interface SettledResults {
  root: Field
  count: bigint
  proof: ResultsCountProof
}

/** The SettledResults of a user's whole leaf list (every settled payable result, in leaf order). */
export function settledResults(
  owner: ResultsOwner,
  manifestDigests: readonly Uint8Array[],
): SettledResults {
  return {
    root: resultsRoot(owner, manifestDigests),
    count: BigInt(manifestDigests.length),
    proof: resultsCountProof(owner, manifestDigests),
  }
}

/** Arguments of settle: one user's latest voucher and the results it pays for, runner-signed. */
export interface SettleArgs {
  service: PublicKey
  book: ChannelBook
  user: PublicKey
  voucher: SignedVoucher
  results: SettledResults
  /** `cidToFields(cid)` of the SettledLeaves document behind `results.root`. */
  leavesCid: [Field, Field]
  runner: PublicKey
  /** Base58 Mina field signature of the runner over settleMessage. */
  runnerSignature: string
}

/** The channel a settlement leaves behind (the contract's rule, for the off-chain book). */
export function settledChannel(
  before: Channel,
  price: bigint,
  voucherNonce: bigint,
  results: { root: Field; count: bigint },
): Channel {
  const added = results.count - before.resultsCount.toBigint()
  return new Channel({
    ...before,
    paidSoFar: before.paidSoFar.add(UInt64.from(price * added)),
    voucherNonce: UInt64.from(voucherNonce),
    resultsRoot: results.root,
    resultsCount: UInt32.from(results.count),
  })
}

/**
 * The channel a withdrawal leaves behind (the contract's rule, for the off-chain book): the request
 * cleared, and a closing nonce taken as the voucher nonce, so older vouchers stay unsettleable.
 */
export function withdrawnChannel(before: Channel): Channel {
  const closed = before.closeNonce.toBigInt() > before.voucherNonce.toBigInt()
  return new Channel({
    ...before,
    voucherNonce: closed ? before.closeNonce : before.voucherNonce,
    withdrawRequestedAtSlot: UInt32.zero,
    closeNonce: UInt64.zero,
  })
}

/** Settles a user's payable results; on success the book holds the new channel. */
export async function settle(payer: FeePayer, a: SettleArgs) {
  const vault = new ServiceVault(a.service, creditTokenId())
  const token = new CreditToken(creditTokenAddress())
  const before = a.book.get(a.user)
  const isNew = !(await accountExists(a.runner, creditTokenId()))
  await fetchAll([a.service], [a.user, receiptTokenId(a.service)], [creditTokenAddress()])
  const [lastDigestHi, lastDigestLo] = unwrap(digestToFields(a.results.proof.lastDigest))
  const { terms } = await readServiceState(a.service)
  const pending = await run(payer, [], async () => {
    if (isNew) AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 1)
    await vault.settle(
      a.book.snapshot(),
      a.user,
      before,
      new VoucherFields({
        cumulativeAmount: UInt64.from(a.voucher.cumulativeAmount),
        nonce: UInt64.from(a.voucher.nonce),
      }),
      Signature.fromBase58(a.voucher.signature),
      new SettleClaim({
        resultsRoot: a.results.root,
        resultsCount: UInt32.from(a.results.count),
        leavesCid0: a.leavesCid[0],
        leavesCid1: a.leavesCid[1],
        lastDigestHi: Field(lastDigestHi),
        lastDigestLo: Field(lastDigestLo),
      }),
      a.results.proof.lastWitness,
      a.results.proof.nextWitness,
      a.runner,
      Signature.fromBase58(a.runnerSignature),
    )
    await token.approveAccountUpdate(vault.self)
  })
  a.book.apply(a.user, settledChannel(before, terms.pricePerJob, a.voucher.nonce, a.results))
  return pending
}

/**
 * Starts the withdrawal timelock for `userKey`. `closeNonce` is the highest voucher nonce the user
 * signed for this service: once withdrawn, no voucher up to it settles any more.
 */
export async function requestWithdraw(
  payer: FeePayer,
  service: PublicKey,
  book: ChannelBook,
  userKey: PrivateKey,
  closeNonce: bigint,
) {
  const contract = new ServiceContract(service)
  const user = userKey.toPublicKey()
  const before = book.get(user)
  await fetchAll([service])
  const now = Mina.getNetworkState().globalSlotSinceGenesis
  const pending = await run(payer, [userKey], async () => {
    await contract.requestWithdraw(book.snapshot(), user, before, UInt64.from(closeNonce))
  })
  const atSlot = now.add(UInt32.from(SLOT_WINDOW))
  book.apply(
    user,
    new Channel({
      ...before,
      withdrawRequestedAtSlot: atSlot,
      closeNonce: UInt64.from(closeNonce),
    }),
  )
  return pending
}

/**
 * Refunds `userKey` the unspent deposit once the timelock is over, paying to create the user's
 * credit account if it has none (a user whose deposit a sponsor paid may never have held credits).
 */
export async function withdraw(
  payer: FeePayer,
  service: PublicKey,
  book: ChannelBook,
  userKey: PrivateKey,
) {
  const vault = new ServiceVault(service, creditTokenId())
  const token = new CreditToken(creditTokenAddress())
  const user = userKey.toPublicKey()
  const before = book.get(user)
  const isNew = !(await accountExists(user, creditTokenId()))
  await fetchAll([service], [user, receiptTokenId(service)], [creditTokenAddress()])
  const pending = await run(payer, [userKey], async () => {
    if (isNew) AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 1)
    await vault.withdraw(book.snapshot(), user, before)
    await token.approveAccountUpdate(vault.self)
  })
  book.apply(user, withdrawnChannel(before))
  return pending
}

/** Records a runner heartbeat at `slot` (signature base58 over heartbeatMessage). */
export async function heartbeat(
  payer: FeePayer,
  service: PublicKey,
  runner: PublicKey,
  slot: bigint,
  signature: string,
) {
  const contract = new ServiceContract(service)
  await fetchAll([service])
  return run(payer, [], async () => {
    await contract.heartbeat(runner, UInt32.from(slot), Signature.fromBase58(signature))
  })
}

/** Deploys the service registry. */
export async function deployRegistry(payer: FeePayer, registryKey: PrivateKey) {
  const registry = new ServiceRegistry(registryKey.toPublicKey())
  return run(payer, [registryKey], async () => {
    AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 1)
    await registry.deploy()
  })
}

/** Lists a service version in the registry under `operatorKey`. */
export async function publishService(
  payer: FeePayer,
  registry: PublicKey,
  operatorKey: PrivateKey,
  service: PublicKey,
  descriptorCid: [bigint, bigint],
) {
  const contract = new ServiceRegistry(registry)
  // Fresh nonces, as in retireService: the operator key may have signed another publish or a
  // heartbeat since this process last read its account (the stack publishes two versions).
  await fetchAll([registry], [operatorKey.toPublicKey()], [payer.key.toPublicKey()])
  return run(payer, [operatorKey], async () => {
    await contract.publish(
      service,
      operatorKey.toPublicKey(),
      Field(descriptorCid[0]),
      Field(descriptorCid[1]),
    )
  })
}

/** Withdraws a service version from the registry's listing, signed by `operatorKey`. */
export async function retireService(
  payer: FeePayer,
  registry: PublicKey,
  operatorKey: PrivateKey,
  service: PublicKey,
) {
  const contract = new ServiceRegistry(registry)
  // Fresh nonces: the operator key signs here and may have signed a heartbeat or the publish
  // since this process last read its account (o1js reuses what it fetched, and a stale nonce
  // fails with Account_nonce_precondition_unsatisfied).
  await fetchAll([registry], [operatorKey.toPublicKey()], [payer.key.toPublicKey()])
  return run(payer, [operatorKey], async () => {
    await contract.retire(service, operatorKey.toPublicKey())
  })
}

/** True when the registry lists a Retired event of `service` by `operator` (needs an archive). */
export async function isRetiredInRegistry(
  registry: PublicKey,
  service: PublicKey,
  operator: PublicKey,
): Promise<boolean> {
  const events = await new ServiceRegistry(registry).fetchEvents()
  return events.some((e) => {
    if (e.type !== 'Retired') return false
    const data = e.event.data as unknown as { service: PublicKey; operator: PublicKey }
    return data.service.equals(service).toBoolean() && data.operator.equals(operator).toBoolean()
  })
}

/**
 * The versions `operator` lists in the registry and has not retired (needs an archive), oldest
 * first: what a runner keeps alive.
 */
export async function listedServices(registry: PublicKey, operator: PublicKey): Promise<string[]> {
  const events = [...(await new ServiceRegistry(registry).fetchEvents())].sort((a, b) =>
    Number(a.blockHeight.toBigint() - b.blockHeight.toBigint()),
  )
  const live = new Set<string>()
  for (const e of events) {
    const data = e.event.data as unknown as { service: PublicKey; operator: PublicKey }
    if (!data.operator.equals(operator).toBoolean()) continue
    if (e.type === 'Published') live.add(data.service.toBase58())
    else if (e.type === 'Retired') live.delete(data.service.toBase58())
  }
  return [...live]
}

/** The receipts token id of a service: a user's balance in it is their cumulative deposit. */
export function receiptTokenId(service: PublicKey): Field {
  return TokenId.derive(service)
}

/** A user's cumulative deposit with a service (0 if none). */
export async function readDeposit(service: PublicKey, user: PublicKey): Promise<bigint> {
  if (!(await accountExists(user, receiptTokenId(service)))) return 0n
  return Mina.getBalance(user, receiptTokenId(service)).toBigInt()
}

/** The credits a key holds (0 if it has no credit account). */
export async function readCredits(owner: PublicKey): Promise<bigint> {
  if (!(await accountExists(owner, creditTokenId()))) return 0n
  return Mina.getBalance(owner, creditTokenId()).toBigInt()
}

/** The credits escrowed by a service (its vault balance). */
export async function readEscrow(service: PublicKey): Promise<bigint> {
  return readCredits(service)
}

/** The decoded state of a service contract. */
export async function readServiceState(service: PublicKey): Promise<ServiceState> {
  if (!isLocal()) await fetchAccount({ publicKey: service })
  const state = Mina.getAccount(service).zkapp?.appState
  if (!state) throw new Error('not a service contract')
  return decodeServiceState(state.map((f) => f.toBigInt()))
}

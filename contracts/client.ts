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
import { digestToFields, LedgerState, LedgerVaultState, unwrap } from '../protocol/index.ts'
import { ChannelLedger, commitLedgerBatch, ledgerReducer } from './channel-ledger.ts'
import { CreditAdmin } from './credit-admin.ts'
import {
  CreditToken,
  creditTokenAddress,
  creditTokenId,
  setCreditTokenAddress,
} from './credit-token.ts'
import { type BookChannel, bookMap, readLedgerBooks, toLedgerChannel } from './ledger-book.ts'
import { LedgerVault } from './ledger-vault.ts'
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
  VoucherFields,
} from './service-contract.ts'
import { ServiceRegistry } from './service-registry.ts'
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

/**
 * Deploys one service version: the ServiceContract and its ChannelLedger (with the LedgerVault
 * holding the escrow), frozen, with the same price, timelock and runner, and bound both ways (the
 * service keeps the ledger's x, the ledger the service's key hash). `ledgerKey` must have an even
 * y (`evenLedgerKey` makes one). Then opens the runner's payout-receipt account, which every batch
 * pays into.
 */
export async function deployService(
  payer: FeePayer,
  serviceKey: PrivateKey,
  ledgerKey: PrivateKey,
  props: Omit<ServiceDeployProps, 'verificationKey' | 'ledger'>,
) {
  const service = new ServiceContract(serviceKey.toPublicKey())
  const ledger = new ChannelLedger(ledgerKey.toPublicKey())
  const vault = new LedgerVault(ledgerKey.toPublicKey(), creditTokenId())
  const token = new CreditToken(creditTokenAddress())
  await fetchAll([creditTokenAddress()])
  const pending = await run(payer, [serviceKey, ledgerKey], async () => {
    AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 3)
    await service.deploy({ ...props, ledger: ledgerKey.toPublicKey() })
    await ledger.deployLedger(
      serviceKey.toPublicKey(),
      props.runner,
      props.pricePerJob,
      props.withdrawTimelockSlots,
    )
    await vault.deploy()
    await token.approveAccountUpdate(vault.self)
  })
  await waitIncluded(pending)
  await fetchAll([ledgerKey.toPublicKey()])
  return run(payer, [], async () => {
    AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 1)
    await ledger.openRunnerAccount(props.runner)
  })
}

/** A random key with an even y, as a service's ledger needs (half of all keys). */
export function evenLedgerKey(): PrivateKey {
  for (;;) {
    const k = PrivateKey.random()
    if (!k.toPublicKey().isOdd.toBoolean()) return k
  }
}

/** The ChannelLedger a service names (its state keeps the x of the ledger's even-y key). */
export async function ledgerOf(service: PublicKey): Promise<PublicKey> {
  const { ledger } = await readServiceState(service)
  return PublicKey.from({ x: Field(ledger), isOdd: Bool(false) })
}

/**
 * Locks `amount` credits of `payerKey` for `beneficiary` (a sponsor may pay for someone else) in
 * the service's ledger.
 */
export async function deposit(
  payer: FeePayer,
  service: PublicKey,
  payerKey: PrivateKey,
  beneficiary: PublicKey,
  amount: bigint,
) {
  const body = await depositBody(service, payerKey.toPublicKey(), beneficiary, amount)
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
  return proveCall(payer, await depositBody(service, payer, beneficiary, amount), options)
}

/**
 * A transaction of `body` proved but not sent: the zkApp command as JSON, `sender` paying the fee.
 * Unsigned by default, for a wallet to sign; with `signers`, signed by them. The page proves its
 * ledger calls with the bodies below (`requestWithdrawBody`, `withdrawBody`, `nextBatchBody`,
 * `refundBody`), which this module's own calls sign and send.
 */
export async function proveCall(
  sender: PublicKey,
  body: () => Promise<void>,
  options: { fee?: number; signers?: PrivateKey[] } = {},
): Promise<string> {
  const tx = await proved(sender, options.fee, body)
  if (options.signers) tx.sign(options.signers)
  return tx.toJSON()
}

async function depositBody(
  service: PublicKey,
  payer: PublicKey,
  beneficiary: PublicKey,
  amount: bigint,
): Promise<() => Promise<void>> {
  const ledgerAddress = await ledgerOf(service)
  const ledger = new ChannelLedger(ledgerAddress)
  // The deposit reads the ledger's frozen state and moves credits into its existing vault: no
  // account is created.
  await fetchAll([ledgerAddress], [creditTokenAddress()], [payer, creditTokenId()])
  return async () => {
    await ledger.deposit(payer, beneficiary, UInt64.from(amount))
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

/** Arguments of a claim: one user's latest voucher and the results it pays for, runner-signed. */
export interface ClaimArgs {
  service: PublicKey
  user: PublicKey
  voucher: SignedVoucher
  results: SettledResults
  /** `cidToFields(cid)` of the SettledLeaves document behind `results.root`. */
  leavesCid: [Field, Field]
  runner: PublicKey
  /** Base58 Mina field signature of the runner over settleMessage. */
  runnerSignature: string
}

/**
 * Lands the runner's settlement claim for one user in the service's ledger (an action; a batch
 * applies it, see `processBatches`). Claims of many users land in one block without colliding.
 */
export async function claim(payer: FeePayer, a: ClaimArgs) {
  return run(payer, [], await claimBody(a))
}

/** The claim's call, to send alone or with others in one transaction. */
export async function claimBody(a: ClaimArgs): Promise<() => Promise<void>> {
  const ledgerAddress = await ledgerOf(a.service)
  const ledger = new ChannelLedger(ledgerAddress)
  await fetchAll([ledgerAddress])
  const [lastDigestHi, lastDigestLo] = unwrap(digestToFields(a.results.proof.lastDigest))
  return async () => {
    await ledger.claim(
      a.service,
      a.user,
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
  }
}

/**
 * Applies every pending action of the service's ledger, one batch transaction after another
 * (anyone may; `runner` is the service's runner key, public): the channels are rebuilt from the
 * chain before each batch. Returns how many batch transactions it sent.
 */
export async function processBatches(
  payer: FeePayer,
  service: PublicKey,
  runner: PublicKey,
): Promise<number> {
  const ledgerAddress = await ledgerOf(service)
  let sent = 0
  for (;;) {
    const body = await nextBatchBody(ledgerAddress, runner)
    if (!body) return sent
    await waitIncluded(await run(payer, [], body))
    commitLedgerBatch(ledgerAddress)
    sent++
  }
}

/**
 * The body of the ledger's next batch (anyone may send it; `runner` is the service's runner key,
 * public), built on the channels the chain's root commits to, rebuilt from the ledger's actions and
 * checked against that root; null when no action waits for a batch.
 */
export async function nextBatchBody(
  ledgerAddress: PublicKey,
  runner: PublicKey,
): Promise<(() => Promise<void>) | null> {
  const ledger = new ChannelLedger(ledgerAddress)
  await fetchAll([ledgerAddress])
  const books = await readLedgerBooks(ledgerAddress)
  ledgerReducer.setContractInstance(ledger)
  const [first] = await ledgerReducer.prepareBatches()
  if (!first) return null
  return async () => {
    await ledger.processBatch(first.batch, first.proof, bookMap(books.committed), runner)
  }
}

/**
 * Starts the withdrawal timelock for `userKey`. `closeNonce` is the highest voucher nonce the user
 * signed for this service: once withdrawn, no voucher up to it settles any more.
 */
export async function requestWithdraw(
  payer: FeePayer,
  service: PublicKey,
  userKey: PrivateKey,
  closeNonce: bigint,
) {
  const body = await requestWithdrawBody(await ledgerOf(service), userKey.toPublicKey(), closeNonce)
  return run(payer, [userKey], body)
}

/** The body of `user`'s withdrawal request (`user` signs it). */
export async function requestWithdrawBody(
  ledgerAddress: PublicKey,
  user: PublicKey,
  closeNonce: bigint,
): Promise<() => Promise<void>> {
  const ledger = new ChannelLedger(ledgerAddress)
  await fetchAll([ledgerAddress], [user])
  return async () => {
    await ledger.requestWithdraw(user, UInt64.from(closeNonce))
  }
}

/**
 * Asks for the refund once the timelock is over (an action: the next batch grants it, and the user
 * pulls it with `refund`).
 */
export async function withdraw(payer: FeePayer, service: PublicKey, userKey: PrivateKey) {
  return run(payer, [userKey], await withdrawBody(await ledgerOf(service), userKey.toPublicKey()))
}

/** The body of `user`'s withdrawal (`user` signs it). */
export async function withdrawBody(
  ledgerAddress: PublicKey,
  user: PublicKey,
): Promise<() => Promise<void>> {
  const ledger = new ChannelLedger(ledgerAddress)
  await fetchAll([ledgerAddress], [user])
  return async () => {
    await ledger.withdraw(user)
  }
}

/**
 * Pays `userKey` every refund their withdrawals were granted and they did not pull yet, paying to
 * create the user's receipt and credit accounts if missing (a user whose deposit a sponsor paid
 * may never have held credits).
 */
export async function refund(payer: FeePayer, service: PublicKey, userKey: PrivateKey) {
  const body = await refundBody(
    await ledgerOf(service),
    userKey.toPublicKey(),
    payer.key.toPublicKey(),
  )
  return run(payer, [userKey], body)
}

/**
 * The body of `user`'s refund pull (`user` signs it); `feePayer` pays for the user's receipt and
 * credit accounts if missing.
 */
export async function refundBody(
  ledgerAddress: PublicKey,
  user: PublicKey,
  feePayer: PublicKey,
): Promise<() => Promise<void>> {
  const vault = new LedgerVault(ledgerAddress, creditTokenId())
  const token = new CreditToken(creditTokenAddress())
  const receipts = TokenId.derive(ledgerAddress)
  await fetchAll([ledgerAddress], [ledgerAddress, creditTokenId()], [creditTokenAddress()])
  const books = await readLedgerBooks(ledgerAddress)
  const channel = toLedgerChannel(books.committed.get(user.toBase58()))
  const hasReceipts = await accountExists(user, receipts)
  const pulled = hasReceipts ? Mina.getBalance(user, receipts) : UInt64.zero
  const missing = Number(!hasReceipts) + Number(!(await accountExists(user, creditTokenId())))
  return async () => {
    if (missing > 0) AccountUpdate.fundNewAccount(feePayer, missing)
    await vault.refund(user, pulled, channel, bookMap(books.committed))
    await token.approveAccountUpdate(vault.self)
  }
}

/**
 * The credits the runner may still redeem: the ledger's `runnerPaid` minus the vault's
 * `redeemed`. Not its receipt balance, which receipts minted before the ledger's freeze may raise
 * (LedgerVault.redeem refuses anything above this, `redeemAbovePaid`).
 */
export async function readRedeemable(service: PublicKey): Promise<bigint> {
  const ledgerAddress = await ledgerOf(service)
  await fetchAll([ledgerAddress], [ledgerAddress, creditTokenId()])
  const paid = Mina.getAccount(ledgerAddress).zkapp?.appState[LedgerState.runnerPaid]
  const redeemed = Mina.getAccount(ledgerAddress, creditTokenId()).zkapp?.appState[
    LedgerVaultState.redeemed
  ]
  if (!paid || !redeemed) throw new Error('not a ledger and its vault')
  return paid.toBigInt() - redeemed.toBigInt()
}

/** The runner (who signs) turns `amount` of its payout receipts into credits. */
export async function redeem(
  payer: FeePayer,
  service: PublicKey,
  runnerKey: PrivateKey,
  amount: bigint,
) {
  const ledgerAddress = await ledgerOf(service)
  const runner = runnerKey.toPublicKey()
  const vault = new LedgerVault(ledgerAddress, creditTokenId())
  const token = new CreditToken(creditTokenAddress())
  await fetchAll([ledgerAddress], [runner, TokenId.derive(ledgerAddress)], [creditTokenAddress()])
  const isNew = !(await accountExists(runner, creditTokenId()))
  return run(payer, [runnerKey], async () => {
    if (isNew) AccountUpdate.fundNewAccount(payer.key.toPublicKey(), 1)
    await vault.redeem(runner, UInt64.from(amount))
    await token.approveAccountUpdate(vault.self)
  })
}

/** Waits until a sent transaction is included (at once on a LocalBlockchain). */
async function waitIncluded(pending: Pending): Promise<void> {
  if (!isLocal()) await pending.wait()
}

/** Records a runner heartbeat at `slot` (signature base58 over heartbeatMessage). */
export async function heartbeat(
  payer: FeePayer,
  service: PublicKey,
  runner: PublicKey,
  slot: bigint,
  signature: string,
) {
  return run(payer, [], await heartbeatBody(service, runner, slot, signature))
}

/**
 * The body of a heartbeat at `slot` (no party signs the transaction: the runner's signature is
 * an argument), to send alone or beside a service's other transactions in one block.
 */
export async function heartbeatBody(
  service: PublicKey,
  runner: PublicKey,
  slot: bigint,
  signature: string,
): Promise<() => Promise<void>> {
  const contract = new ServiceContract(service)
  await fetchAll([service])
  return async () => {
    await contract.heartbeat(runner, UInt32.from(slot), Signature.fromBase58(signature))
  }
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

/** The payout-receipt token of a service's ledger (a runner's balance: credits owed to it). */
export async function payoutTokenId(service: PublicKey): Promise<Field> {
  return TokenId.derive(await ledgerOf(service))
}

/** A user's channel in a service's ledger, counting every landed action (ledger-book.ts). */
export async function readUserChannel(service: PublicKey, user: PublicKey): Promise<BookChannel> {
  const books = await readLedgerBooks(await ledgerOf(service))
  return books.all.get(user.toBase58())
}

/**
 * What `user` may still spend on new jobs with a service: deposited − paid, counting every action
 * that landed (deposits and claims a batch has not applied yet), none while a withdrawal is
 * pending (ledger-book.ts).
 */
export async function readFundable(service: PublicKey, user: PublicKey): Promise<bigint> {
  const books = await readLedgerBooks(await ledgerOf(service))
  return books.all.fundable(user.toBase58())
}

/** The credits a key holds (0 if it has no credit account). */
export async function readCredits(owner: PublicKey): Promise<bigint> {
  if (!(await accountExists(owner, creditTokenId()))) return 0n
  return Mina.getBalance(owner, creditTokenId()).toBigInt()
}

/** The credits escrowed by a service (its ledger vault's balance). */
export async function readEscrow(service: PublicKey): Promise<bigint> {
  return readCredits(await ledgerOf(service))
}

/** The decoded state of a service contract. */
export async function readServiceState(service: PublicKey): Promise<ServiceState> {
  if (!isLocal()) await fetchAccount({ publicKey: service })
  const state = Mina.getAccount(service).zkapp?.appState
  if (!state) throw new Error('not a service contract')
  return decodeServiceState(state.map((f) => f.toBigInt()))
}

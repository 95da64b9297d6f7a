import {
  AccountUpdate,
  Field,
  Mina,
  PrivateKey,
  type PublicKey,
  Signature,
  TokenId,
  UInt32,
  UInt64,
} from 'o1js'
import {
  digestToFields,
  settleMessage,
  signFields,
  unwrap,
  voucherMessage,
} from '../protocol/index.ts'
import { ChannelMap, channelKey } from './channel.ts'
import {
  ChannelLedger,
  commitLedgerBatch,
  type LedgerChannel,
  ledgerChannel,
  ledgerReducer,
} from './channel-ledger.ts'
import { accountExists } from './client.ts'
import { CreditToken, creditTokenAddress, creditTokenId } from './credit-token.ts'
import { LedgerVault } from './ledger-vault.ts'
import { resultsCountProof, resultsRoot } from './results-tree.ts'
import { SettleClaim, VoucherFields } from './service-contract.ts'

// Transactions of the ChannelLedger prototype (see channel-ledger.ts), for its tests and the
// benchmark. Each function builds, proves, signs and sends one transaction.

const FEE = 100_000_000

/** Sends one transaction paid by `payer`, signed by `signers` too; throws when refused. */
export async function send(payer: PrivateKey, signers: PrivateKey[], body: () => Promise<void>) {
  const tx = await Mina.transaction({ sender: payer.toPublicKey(), fee: FEE }, body)
  await tx.prove()
  const pending = await tx.sign([payer, ...signers]).send()
  if (pending.status !== 'pending') throw new Error(JSON.stringify(pending.errors))
  return { tx, pending }
}

/** What a forged claim changes (tests of refusals). */
export interface ClaimForgery {
  count?: bigint
  /** The count the runner signs, when not the one claimed. */
  signedCount?: bigint
  runnerKey?: PrivateKey
  owner?: PublicKey
  /** The service the leaves are built for, when not this ledger's (a leaf reused across services). */
  leafService?: PublicKey
}

type PreparedBatch = Awaited<ReturnType<typeof ledgerReducer.prepareBatches>>[number]

/** A deployed ledger and the off-chain copy of its channels map. */
export class LedgerHandle {
  readonly contract: ChannelLedger
  map = new ChannelMap()

  readonly vault: LedgerVault

  constructor(
    readonly key: PrivateKey,
    readonly runnerKey: PrivateKey,
    /** The service the ledger settles for: vouchers, claims and leaves name it. */
    readonly service: PublicKey,
  ) {
    this.contract = new ChannelLedger(key.toPublicKey())
    this.vault = new LedgerVault(key.toPublicKey(), creditTokenId())
  }

  /** The ledger's payout-receipt token. */
  get receiptTokenId() {
    return TokenId.derive(this.address)
  }

  /**
   * The receipt balance of `owner`: for the runner, credits the ledger owes it (to redeem); for a
   * user, the refunds they pulled so far.
   */
  receipts(owner: PublicKey): bigint {
    return balanceOf(owner, this.receiptTokenId)
  }

  /** Credits in the vault (escrow plus receipts not yet redeemed). */
  vaultBalance(): bigint {
    return balanceOf(this.address, creditTokenId())
  }

  get address(): PublicKey {
    return this.key.toPublicKey()
  }

  channel(user: PublicKey): LedgerChannel {
    return ledgerChannel(this.address, user)
  }

  static async deploy(
    payer: PrivateKey,
    key: PrivateKey,
    runnerKey: PrivateKey,
    price: bigint,
    timelock: number,
    service: PublicKey = PrivateKey.random().toPublicKey(),
  ): Promise<LedgerHandle> {
    const h = new LedgerHandle(key, runnerKey, service)
    const token = new CreditToken(creditTokenAddress())
    await send(payer, [key], async () => {
      // The ledger and its vault.
      AccountUpdate.fundNewAccount(payer.toPublicKey(), 2)
      await h.contract.deployLedger(
        service,
        runnerKey.toPublicKey(),
        UInt64.from(price),
        UInt32.from(timelock),
      )
      await h.vault.deploy()
      await token.approveAccountUpdate(h.vault.self)
    })
    await send(payer, [], async () => {
      AccountUpdate.fundNewAccount(payer.toPublicKey(), 1)
      await h.contract.openRunnerAccount(runnerKey.toPublicKey())
    })
    return h
  }

  /** `from` (who signs) locks `amount` credits for `beneficiary` (a sponsor may pay). */
  deposit(payer: PrivateKey, from: PrivateKey, beneficiary: PublicKey, amount: bigint) {
    return send(payer, [from], this.depositCall(from, beneficiary, amount))
  }

  /** The deposit's call, to send alone or with others. */
  depositCall(from: PrivateKey, beneficiary: PublicKey, amount: bigint): () => Promise<void> {
    return async () => {
      await this.contract.deposit(from.toPublicKey(), beneficiary, UInt64.from(amount))
    }
  }

  /** The runner (who signs) turns `amount` receipts into credits (funds a new credit account). */
  redeem(payer: PrivateKey, owner: PrivateKey, amount: bigint) {
    return send(payer, [owner], this.redeemCall(payer.toPublicKey(), owner.toPublicKey(), amount))
  }

  /**
   * Pays `user` (who signs) every refund their withdrawals were granted and they did not pull
   * yet; `payer` pays the fee and the creation of the user's accounts that are missing.
   */
  refund(payer: PrivateKey, user: PrivateKey) {
    return send(payer, [user], this.refundCall(payer.toPublicKey(), user.toPublicKey()))
  }

  refundCall(feePayer: PublicKey, user: PublicKey): () => Promise<void> {
    const token = new CreditToken(creditTokenAddress())
    const pulled = this.receipts(user)
    const channel = this.channel(user)
    const map = this.map.clone() as ChannelMap
    return async () => {
      const missing =
        Number(!(await accountExists(user, this.receiptTokenId))) +
        Number(!(await accountExists(user, creditTokenId())))
      if (missing > 0) AccountUpdate.fundNewAccount(feePayer, missing)
      await this.vault.refund(user, UInt64.from(pulled), channel, map)
      await token.approveAccountUpdate(this.vault.self)
    }
  }

  redeemCall(feePayer: PublicKey, owner: PublicKey, amount: bigint): () => Promise<void> {
    const token = new CreditToken(creditTokenAddress())
    return async () => {
      if (!(await accountExists(owner, creditTokenId()))) AccountUpdate.fundNewAccount(feePayer, 1)
      await this.vault.redeem(owner, UInt64.from(amount))
      await token.approveAccountUpdate(this.vault.self)
    }
  }

  /** The user's voucher for (amount, nonce), signed by the user. */
  voucher(user: PrivateKey, cumulativeAmount: bigint, nonce: bigint) {
    const fields = voucherMessage({ service: this.service.toBase58(), cumulativeAmount, nonce })
    return { cumulativeAmount, nonce, signature: signFields(fields, user.toBase58()) }
  }

  /**
   * The runner's claim that `user`'s results are `digests`, under voucher `v`. `forge` changes one
   * part, for tests of refusals: the claimed count, the count signed, the signing key, the user
   * or the service the leaves are for.
   */
  claim(
    payer: PrivateKey,
    user: PublicKey,
    digests: readonly Uint8Array[],
    v: { cumulativeAmount: bigint; nonce: bigint; signature: string },
    forge: ClaimForgery = {},
  ) {
    return send(payer, [], this.claimCall(user, digests, v, forge))
  }

  /** The claim's method call, to send alone or with others in one transaction. */
  claimCall(
    user: PublicKey,
    digests: readonly Uint8Array[],
    v: { cumulativeAmount: bigint; nonce: bigint; signature: string },
    forge: ClaimForgery = {},
  ): () => Promise<void> {
    const owner = {
      service: (forge.leafService ?? this.service).toBase58(),
      user: (forge.owner ?? user).toBase58(),
    }
    const root = resultsRoot(owner, digests)
    const proof = resultsCountProof(owner, digests)
    const count = forge.count ?? BigInt(digests.length)
    const leavesCid: [bigint, bigint] = [0x55n << 128n, 1n]
    const runnerSignature = signFields(
      settleMessage({
        service: this.service.toBase58(),
        user: user.toBase58(),
        resultsRoot: root.toBigInt(),
        resultsCount: forge.signedCount ?? count,
        leavesCid,
        cumulativeAmount: v.cumulativeAmount,
        nonce: v.nonce,
      }),
      (forge.runnerKey ?? this.runnerKey).toBase58(),
    )
    const [hi, lo] = unwrap(digestToFields(proof.lastDigest))
    return () =>
      this.contract.claim(
        this.service,
        user,
        new VoucherFields({
          cumulativeAmount: UInt64.from(v.cumulativeAmount),
          nonce: UInt64.from(v.nonce),
        }),
        Signature.fromBase58(v.signature),
        new SettleClaim({
          resultsRoot: root,
          resultsCount: UInt32.from(count),
          leavesCid0: Field(leavesCid[0]),
          leavesCid1: Field(leavesCid[1]),
          lastDigestHi: Field(hi),
          lastDigestLo: Field(lo),
        }),
        proof.lastWitness,
        proof.nextWitness,
        this.runnerKey.toPublicKey(),
        Signature.fromBase58(runnerSignature),
      )
  }

  requestWithdraw(payer: PrivateKey, user: PrivateKey, closeNonce: bigint) {
    return send(payer, [user], () =>
      this.contract.requestWithdraw(user.toPublicKey(), UInt64.from(closeNonce)),
    )
  }

  withdraw(payer: PrivateKey, user: PrivateKey) {
    return send(payer, [user], () => this.contract.withdraw(user.toPublicKey()))
  }

  /** The pending batches, each ready to send (prepared from the chain's actions now). */
  async prepare() {
    ledgerReducer.setContractInstance(this.contract)
    return ledgerReducer.prepareBatches()
  }

  /**
   * One prepared batch's call, to build a transaction with, and `commit` to record its channels
   * once that transaction is on chain.
   */
  batchCall(prepared: PreparedBatch): { body: () => Promise<void>; commit: () => void } {
    let next: ChannelMap | undefined
    return {
      body: async () => {
        next = await this.contract.processBatch(
          prepared.batch,
          prepared.proof,
          this.map.clone() as ChannelMap,
          this.runnerKey.toPublicKey(),
        )
      },
      commit: () => {
        commitLedgerBatch(this.address)
        if (next) this.map = next
      },
    }
  }

  /** Sends one prepared batch; on success records its channels. */
  async sendBatch(payer: PrivateKey, prepared: PreparedBatch) {
    const { body, commit } = this.batchCall(prepared)
    const sent = await send(payer, [], body)
    commit()
    return sent
  }

  /** Processes every pending action, batch after batch; returns how many transactions it took. */
  async processAll(payer: PrivateKey): Promise<number> {
    let txs = 0
    for (;;) {
      const batches = await this.prepare()
      if (batches.length === 0) return txs
      await this.sendBatch(payer, batches[0]!)
      txs++
    }
  }

  /** True when the off-chain map holds `channel` for `user` (and so the chain does). */
  holds(user: PublicKey, channel: LedgerChannel): boolean {
    return this.map.getOption(channelKey(user)).orElse(0n).toBigInt() === channel.hash().toBigInt()
  }
}

/** A balance on the active chain; an account that does not exist holds nothing. */
export function balanceOf(owner: PublicKey, tokenId: Field): bigint {
  try {
    return Mina.getBalance(owner, tokenId).toBigInt()
  } catch {
    return 0n
  }
}

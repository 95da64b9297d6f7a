import { Field, Mina, type PrivateKey, type PublicKey, Signature, UInt32, UInt64 } from 'o1js'
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

/** A deployed ledger and the off-chain copy of its channels map. */
export class LedgerHandle {
  readonly contract: ChannelLedger
  map = new ChannelMap()

  constructor(
    readonly key: PrivateKey,
    readonly runnerKey: PrivateKey,
  ) {
    this.contract = new ChannelLedger(key.toPublicKey())
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
  ): Promise<LedgerHandle> {
    const h = new LedgerHandle(key, runnerKey)
    await send(payer, [key], async () => {
      const { AccountUpdate } = await import('o1js')
      AccountUpdate.fundNewAccount(payer.toPublicKey())
      await h.contract.deployLedger(
        runnerKey.toPublicKey(),
        UInt64.from(price),
        UInt32.from(timelock),
      )
    })
    return h
  }

  deposit(payer: PrivateKey, from: PrivateKey, beneficiary: PublicKey, amount: bigint) {
    return send(payer, [from], () =>
      this.contract.deposit(from.toPublicKey(), beneficiary, UInt64.from(amount)),
    )
  }

  /** The user's voucher for (amount, nonce), signed by the user. */
  voucher(user: PrivateKey, cumulativeAmount: bigint, nonce: bigint) {
    const fields = voucherMessage({ service: this.address.toBase58(), cumulativeAmount, nonce })
    return { cumulativeAmount, nonce, signature: signFields(fields, user.toBase58()) }
  }

  /** The runner's claim that `user`'s results are `digests`, under voucher `v`. */
  claim(
    payer: PrivateKey,
    user: PublicKey,
    digests: readonly Uint8Array[],
    v: { cumulativeAmount: bigint; nonce: bigint; signature: string },
  ) {
    return send(payer, [], this.claimCall(user, digests, v))
  }

  /** The claim's method call, to send alone or with others in one transaction. */
  claimCall(
    user: PublicKey,
    digests: readonly Uint8Array[],
    v: { cumulativeAmount: bigint; nonce: bigint; signature: string },
  ): () => Promise<void> {
    const owner = { service: this.address.toBase58(), user: user.toBase58() }
    const root = resultsRoot(owner, digests)
    const proof = resultsCountProof(owner, digests)
    const leavesCid: [bigint, bigint] = [0x55n << 128n, 1n]
    const runnerSignature = signFields(
      settleMessage({
        service: this.address.toBase58(),
        user: user.toBase58(),
        resultsRoot: root.toBigInt(),
        resultsCount: BigInt(digests.length),
        leavesCid,
        cumulativeAmount: v.cumulativeAmount,
        nonce: v.nonce,
      }),
      this.runnerKey.toBase58(),
    )
    const [hi, lo] = unwrap(digestToFields(proof.lastDigest))
    return () =>
      this.contract.claim(
        user,
        new VoucherFields({
          cumulativeAmount: UInt64.from(v.cumulativeAmount),
          nonce: UInt64.from(v.nonce),
        }),
        Signature.fromBase58(v.signature),
        new SettleClaim({
          resultsRoot: root,
          resultsCount: UInt32.from(digests.length),
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
   * Sends one prepared batch; on success records its channels. Returns the transaction, whose
   * length of account updates and proof the benchmark reports.
   */
  async sendBatch(
    payer: PrivateKey,
    prepared: Awaited<ReturnType<LedgerHandle['prepare']>>[number],
  ) {
    const map = this.map.clone() as ChannelMap
    let next: ChannelMap | undefined
    const sent = await send(payer, [], async () => {
      next = await this.contract.processBatch(
        prepared.batch,
        prepared.proof,
        this.map.clone() as ChannelMap,
      )
    })
    commitLedgerBatch(this.address)
    this.map = next ?? map
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

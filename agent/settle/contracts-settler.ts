import type { Helia } from 'helia'
import { Field, Mina, PrivateKey, PublicKey } from 'o1js'
import {
  accountExists,
  ChannelLedger,
  claim,
  compileAll,
  type LedgerBook,
  ledgerOf,
  minaNetwork,
  payoutTokenId,
  processBatches,
  type ResultsOwner,
  readLedgerBooks,
  readRedeemable,
  redeem,
  resultsRoot,
  setCreditTokenAddress,
  settledResults,
} from '../../contracts/index.ts'
import {
  cidToFields,
  fromHex,
  type MinaKeyPair,
  settleMessage,
  signFields,
  unwrap,
  verifyVoucher,
} from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { pinSettledLeaves } from './pin-leaves.ts'
import type { FlushResult, SettlementBatch, SettleResult, Settler } from './settler.ts'

/** A selected Mina instance: `Mina.Network(…)` in production, a LocalBlockchain in tests. */
export type MinaInstance = Parameters<typeof Mina.setActiveInstance>[0]

/** How the contracts settler reaches the chain and who pays. */
export interface ContractsSettlerOptions {
  /** The runner oracle key: signs the settlement and receives the payment. */
  runner: MinaKeyPair
  /** Base58 private key paying the fee (the runner key by default). */
  feePayerKey?: string
  /** Fee in nanomina. */
  fee?: number
  /** Base58 address of the credit token the service is paid in. */
  creditToken: string
  /** An already-selected network; when absent, `Mina.Network` is built from the URLs below. */
  network?: MinaInstance
  minaGraphqlUrl?: string
  archiveUrl?: string
  networkId?: string
  /** False only against a node that does not verify proofs (see minaNetwork). */
  prove?: boolean
  /** Compiled-key cache, used when the network requires proofs. */
  cacheDir: string
  /** The agent's IPFS node (the store its gateway serves): each settlement's leaves are pinned here. */
  ipfs: Pick<Helia, 'blockstore' | 'pins'>
}

const fail = (message: string): never => {
  throw new AgentError(AgentErrorCode.SETTLE_FAILED, message)
}

/** The root a channel holds after settling `digests` (Field(0) for a channel that never settled). */
function rootOf(owner: ResultsOwner, digests: readonly string[]): Field {
  return digests.length === 0
    ? Field(0)
    : resultsRoot(
        owner,
        digests.map((d) => fromHex(d)),
      )
}

/**
 * The service's ledger and its channel book with every landed action folded in (claims and
 * withdrawal requests a batch has not applied yet count: their outcome is already decided by
 * their order), rebuilt from the chain (ledger-book.ts).
 */
async function bookOf(service: PublicKey): Promise<{ ledger: PublicKey; book: LedgerBook }> {
  const ledger = await ledgerOf(service)
  try {
    return { ledger, book: (await readLedgerBooks(ledger)).all }
  } catch (e) {
    return fail(`the ledger's channels cannot be rebuilt (${(e as Error).message}); retry later`)
  }
}

/** The transaction that landed the latest claim for `user` in `ledger` ('' if none is listed). */
async function lastClaimTx(ledger: PublicKey, user: PublicKey): Promise<string> {
  const events = await new ChannelLedger(ledger).fetchEvents()
  const mine = events.filter(
    (e) =>
      e.type === 'Claim' &&
      (e.event.data as unknown as { user: PublicKey }).user.equals(user).toBoolean(),
  )
  return mine.at(-1)?.event.transactionInfo.transactionHash ?? ''
}

/**
 * A Settler on the contracts client: rebuilds the user's channel from the service ledger's
 * actions, checks the batch against it, pins the SettledLeaves document of the cumulative results
 * root, signs settleMessage over that root and the document's CID, and lands the claim in the
 * ledger. `flush`, once every claim of a round landed, applies the pending actions
 * (processBatch, which anyone may run; the runner does) and redeems the runner's pay once.
 */
export async function openContractsSettler(options: ContractsSettlerOptions): Promise<Settler> {
  const network =
    options.network ??
    minaNetwork({
      networkId: options.networkId ?? 'devnet',
      mina: options.minaGraphqlUrl ?? 'http://127.0.0.1:3085/graphql',
      archive: options.archiveUrl ?? 'http://127.0.0.1:3085/archive',
      prove: options.prove,
    })
  Mina.setActiveInstance(network)
  let token: PublicKey
  try {
    token = PublicKey.fromBase58(options.creditToken)
  } catch {
    return fail(`credit token ${options.creditToken} is not a Mina address`)
  }
  setCreditTokenAddress(token)
  let compiled = false
  const payer = {
    key: PrivateKey.fromBase58(options.feePayerKey ?? options.runner.privateKey),
    fee: options.fee,
  }
  const runner = PublicKey.fromBase58(options.runner.publicKey)
  const runnerKey = PrivateKey.fromBase58(options.runner.privateKey)

  async function ensureCompiled(): Promise<void> {
    if (network.proofsEnabled && !compiled) {
      await compileAll(token, options.cacheDir)
      compiled = true
    }
  }

  /**
   * Applies every pending action of the service's ledger (the runner's claims among them), then
   * redeems what the batches paid the runner and it did not redeem yet (`runnerPaid − redeemed`,
   * never its receipt balance: receipts minted before the ledger's freeze redeem nothing). The
   * redeem holds `runnerPaid` as an equality precondition: with every claim of the runner
   * processed first, nobody else's batch can change it before the redeem lands.
   */
  async function flush(service: PublicKey): Promise<FlushResult> {
    await ensureCompiled()
    try {
      const batches = await processBatches(payer, service, runner)
      const tokenId = await payoutTokenId(service)
      const receipts = (await accountExists(runner, tokenId))
        ? Mina.getBalance(runner, tokenId).toBigInt()
        : 0n
      const redeemable = await readRedeemable(service)
      const amount = redeemable < receipts ? redeemable : receipts
      if (amount > 0n) {
        const pending = await redeem(payer, service, runnerKey, amount)
        const included = await pending.safeWait()
        if (included.status !== 'included')
          fail(`redeem ${pending.hash} was not included: ${JSON.stringify(included.errors)}`)
      }
      return { batches, redeemed: String(amount) }
    } catch (e) {
      return fail(`batch or redeem failed: ${(e as Error).message.split('\n')[0]}`)
    }
  }

  return {
    async withdrawalDeadline(serviceAddress: string, userAddress: string) {
      const { book } = await bookOf(PublicKey.fromBase58(serviceAddress))
      const at = book.get(userAddress).withdrawRequestedAtSlot
      return at === 0n ? null : at + book.terms.withdrawTimelockSlots
    },

    async settle(batch: SettlementBatch): Promise<SettleResult> {
      const v = batch.voucher
      if (v.service !== batch.service || v.user !== batch.user)
        fail(`the voucher is for ${v.user} on ${v.service}, not this batch`)
      if (!verifyVoucher(v).ok) fail(`the voucher of ${batch.user} has a bad signature`)
      const service = PublicKey.fromBase58(batch.service)
      const user = PublicKey.fromBase58(batch.user)
      const { ledger, book } = await bookOf(service)
      const channel = book.get(batch.user)
      const owner = { service: batch.service, user: batch.user }
      const digests = batch.jobs.map((j) => j.manifestDigest)
      const pinLeaves = (manifestDigests: string[]) =>
        pinSettledLeaves(options.ipfs, {
          v: 1,
          service: batch.service,
          user: batch.user,
          manifestDigests,
        })

      const onChainRoot = channel.resultsRoot
      const nonce = BigInt(v.nonce)
      if (channel.voucherNonce >= nonce) {
        // Included before the agent could record it (crash after send): find how much it covered.
        for (let n = digests.length; n > 0; n--) {
          const leaves = [...batch.settled, ...digests.slice(0, n)]
          if (rootOf(owner, leaves).toBigInt() !== onChainRoot) continue
          // Pinned before the send; pinned again in case the store lost it since.
          await pinLeaves(leaves)
          return { txHash: await lastClaimTx(ledger, user), jobs: n }
        }
        fail(`voucher nonce ${nonce} is not above the settled nonce ${channel.voucherNonce}`)
      }
      if (rootOf(owner, batch.settled).toBigInt() !== onChainRoot)
        fail(
          `the user's settled results root on chain does not match the ${batch.settled.length} settled jobs in the spool`,
        )

      // The contract pays price × the results added, within the voucher: a voucher that also
      // covers jobs that ended not payable (signed before the Worker released them) is only a
      // ceiling, and every queued job here is payable (pendingBatches keeps no other).
      const amount = BigInt(v.cumulativeAmount)
      const price = book.terms.pricePerJob
      const room = amount - channel.paidSoFar
      if (room < 0n) fail('the voucher is below what was already paid')
      // Within the deposit too: a batch skips a claim above it (voucherAboveDeposit).
      const fundable = channel.deposited - channel.paidSoFar
      const payable = room < fundable ? room : fundable
      const covered =
        price === 0n ? digests.length : Math.min(digests.length, Number(payable / price))
      if (covered === 0) fail('the voucher (or the deposit) pays for no new job')
      const leaves = [...batch.settled, ...digests.slice(0, covered)]
      const results = settledResults(
        owner,
        leaves.map((d) => fromHex(d)),
      )
      // Pinned before the transaction is sent: once the Settle event is on chain, the page may
      // look for the document at any time.
      const leavesCid = unwrap(cidToFields(await pinLeaves(leaves)))
      const runnerSignature = signFields(
        settleMessage({
          service: batch.service,
          user: batch.user,
          resultsRoot: results.root.toBigInt(),
          resultsCount: results.count,
          leavesCid,
          cumulativeAmount: amount,
          nonce,
        }),
        options.runner.privateKey,
      )
      await ensureCompiled()
      let pending: Awaited<ReturnType<typeof claim>>
      try {
        pending = await claim(payer, {
          service,
          user,
          voucher: { cumulativeAmount: amount, nonce, signature: v.signature },
          results,
          leavesCid: [Field(leavesCid[0]), Field(leavesCid[1])],
          runner,
          runnerSignature,
        })
      } catch (e) {
        return fail(`claim transaction failed: ${(e as Error).message.split('\n')[0]}`)
      }
      const included = await pending.safeWait()
      if (included.status !== 'included')
        fail(
          `claim transaction ${pending.hash} was not included: ${JSON.stringify(included.errors)}`,
        )
      // The claim's outcome is decided by its place in the action order, before any batch runs
      // (the book folds every landed action): applied unless an action before it (a withdrawal)
      // changed the channel since the book was read. flush applies it on chain.
      const after = (await bookOf(service)).book.get(batch.user)
      if (after.resultsRoot !== results.root.toBigInt())
        fail('the claim will be skipped by its batch (the channel changed before it); retry')
      return { txHash: pending.hash, jobs: covered }
    },

    flush: (serviceAddress: string) => flush(PublicKey.fromBase58(serviceAddress)),
  }
}

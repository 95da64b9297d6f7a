import type { Helia } from 'helia'
import { Field, Mina, PrivateKey, PublicKey } from 'o1js'
import {
  ChannelBook,
  type ChannelEvent,
  compileAll,
  minaNetwork,
  type ResultsOwner,
  readServiceState,
  resultsRoot,
  ServiceContract,
  setCreditTokenAddress,
  settle,
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
import type { SettlementBatch, SettleResult, Settler } from './settler.ts'

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

type ChannelRecord = { data: ChannelEvent; txHash: string }

/**
 * Rebuilds the service's channels book from its Channel events, oldest first. Sources differ in
 * the order they list events of one block (an archive lists newest first; LocalBlockchain flips
 * its list on every call) and the map's root depends on insertion order, so both orders are tried
 * and the one reproducing the on-chain root wins.
 */
async function channelsOf(
  service: PublicKey,
  channelsRoot: bigint,
): Promise<{ book: ChannelBook; events: ChannelRecord[] }> {
  const listed = (await new ServiceContract(service).fetchEvents())
    .filter((e) => e.type === 'Channel')
    .map((e) => ({
      height: e.blockHeight.toBigint(),
      data: e.event.data as unknown as ChannelEvent,
      txHash: e.event.transactionInfo.transactionHash,
    }))
  for (const candidate of [[...listed].reverse(), listed]) {
    // Array.prototype.sort is stable: within a block the candidate's order stays.
    const events = candidate.sort((a, b) =>
      a.height < b.height ? -1 : a.height > b.height ? 1 : 0,
    )
    const book = ChannelBook.fromEvents(events.map((e) => e.data))
    if (book.root.toBigInt() === channelsRoot) return { book, events }
  }
  return fail('the archive is behind the service contract (channels root differs); retry later')
}

/**
 * A Settler on the contracts client: rebuilds the service's channels from its events, checks the
 * batch against the user's channel, pins the SettledLeaves document of the cumulative results
 * root, signs settleMessage over that root and the document's CID, proves, sends and waits until
 * the transaction is included.
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

  return {
    async withdrawalDeadline(serviceAddress: string, userAddress: string) {
      const service = PublicKey.fromBase58(serviceAddress)
      const state = await readServiceState(service)
      const { book } = await channelsOf(service, state.channelsRoot)
      const at = book.get(PublicKey.fromBase58(userAddress)).withdrawRequestedAtSlot.toBigint()
      return at === 0n ? null : at + state.terms.withdrawTimelockSlots
    },

    async settle(batch: SettlementBatch): Promise<SettleResult> {
      const v = batch.voucher
      if (v.service !== batch.service || v.user !== batch.user)
        fail(`the voucher is for ${v.user} on ${v.service}, not this batch`)
      if (!verifyVoucher(v).ok) fail(`the voucher of ${batch.user} has a bad signature`)
      const service = PublicKey.fromBase58(batch.service)
      const user = PublicKey.fromBase58(batch.user)
      const state = await readServiceState(service)
      const { book, events } = await channelsOf(service, state.channelsRoot)
      const channel = book.get(user)
      const owner = { service: batch.service, user: batch.user }
      const digests = batch.jobs.map((j) => j.manifestDigest)
      const pinLeaves = (manifestDigests: string[]) =>
        pinSettledLeaves(options.ipfs, {
          v: 1,
          service: batch.service,
          user: batch.user,
          manifestDigests,
        })

      const onChainRoot = channel.resultsRoot.toBigInt()
      const nonce = BigInt(v.nonce)
      if (channel.voucherNonce.toBigInt() >= nonce) {
        // Included before the agent could record it (crash after send): find how much it covered.
        for (let n = digests.length; n > 0; n--) {
          const leaves = [...batch.settled, ...digests.slice(0, n)]
          if (rootOf(owner, leaves).toBigInt() !== onChainRoot) continue
          // Pinned before the send; pinned again in case the store lost it since.
          await pinLeaves(leaves)
          const last = events.filter((e) => e.data.user.equals(user).toBoolean()).at(-1)
          return { txHash: last?.txHash ?? '', jobs: n }
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
      const price = state.terms.pricePerJob
      const room = amount - channel.paidSoFar.toBigInt()
      if (room < 0n) fail('the voucher is below what was already paid')
      const covered = price === 0n ? digests.length : Math.min(digests.length, Number(room / price))
      if (covered === 0) fail('the voucher pays for no new job')
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
      if (network.proofsEnabled && !compiled) {
        await compileAll(token, options.cacheDir)
        compiled = true
      }
      let pending: Awaited<ReturnType<typeof settle>>
      try {
        pending = await settle(payer, {
          service,
          book,
          user,
          voucher: { cumulativeAmount: amount, nonce, signature: v.signature },
          results,
          leavesCid: [Field(leavesCid[0]), Field(leavesCid[1])],
          runner,
          runnerSignature,
        })
      } catch (e) {
        return fail(`settle transaction failed: ${(e as Error).message.split('\n')[0]}`)
      }
      const included = await pending.safeWait()
      if (included.status !== 'included')
        fail(
          `settle transaction ${pending.hash} was not included: ${JSON.stringify(included.errors)}`,
        )
      return { txHash: pending.hash, jobs: covered }
    },
  }
}

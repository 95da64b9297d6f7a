import { GraphQLError } from 'graphql'
import type { Types } from 'o1js'
import { fieldToBase58 } from '../base58.ts'
import { ChainError } from '../errors.ts'
import {
  ACCOUNT_CREATION_FEE,
  type Block,
  COINBASE,
  CONSENSUS,
  type IncludedCommand,
  type LocalChain,
} from '../local-chain.ts'

// Resolvers of the daemon schema, as a root value: each root field is a function of its
// arguments, and nested objects are plain data shaped like the daemon's answers.

const ZERO_LEDGER_HASH = fieldToBase58('ledgerHash', 0n)
const ZERO_SEED = fieldToBase58('epochSeed', 0n)
const ZERO_STATE_HASH = fieldToBase58('stateHash', 0n)

function accountView(chain: LocalChain, account: Types.Json.Account): Record<string, unknown> {
  const tip = chain.tip()
  const timing = account.timing
  const zkapp = account.zkapp
  return {
    publicKey: account.publicKey,
    tokenId: account.tokenId,
    token: account.tokenId,
    nonce: account.nonce,
    inferredNonce: account.nonce,
    balance: {
      total: account.balance,
      unknown: account.balance,
      liquid: account.balance,
      locked: '0',
      blockHeight: String(tip.height),
      stateHash: chain.stateHash(tip.height),
    },
    tokenSymbol: account.tokenSymbol,
    receiptChainHash: fieldToBase58('receiptChainHash', account.receiptChainHash),
    timing: timing.isTimed
      ? {
          initialMinimumBalance: timing.initialMinimumBalance,
          cliffTime: timing.cliffTime,
          cliffAmount: timing.cliffAmount,
          vestingPeriod: timing.vestingPeriod,
          vestingIncrement: timing.vestingIncrement,
        }
      : {
          initialMinimumBalance: null,
          cliffTime: null,
          cliffAmount: null,
          vestingPeriod: null,
          vestingIncrement: null,
        },
    permissions: account.permissions,
    delegate: account.delegate,
    delegateAccount: () => {
      if (account.delegate === null) return null
      const delegate = chain.getAccount(account.delegate)
      return delegate ? accountView(chain, delegate) : null
    },
    votingFor: fieldToBase58('stateHash', account.votingFor),
    zkappState: zkapp?.appState ?? null,
    verificationKey: zkapp?.verificationKey
      ? { verificationKey: zkapp.verificationKey.data, hash: zkapp.verificationKey.hash }
      : null,
    actionState: zkapp?.actionState ?? null,
    provedState: zkapp ? zkapp.provedState : null,
    zkappUri: zkapp ? zkapp.zkappUri : null,
    locked: null,
  }
}

/** The daemon's view of an included command (`ZkappCommandResult`). */
export function commandView(command: IncludedCommand): Record<string, unknown> {
  return {
    id: command.hash,
    hash: command.hash,
    zkappCommand: command.json,
    failureReason: command.failureReason,
  }
}

function epochData(chain: LocalChain) {
  return {
    ledger: { hash: ZERO_LEDGER_HASH, totalCurrency: chain.currency.toString() },
    seed: ZERO_SEED,
    startCheckpoint: ZERO_STATE_HASH,
    lockCheckpoint: ZERO_STATE_HASH,
    epochLength: '0',
  }
}

function blockView(chain: LocalChain, block: Block): Record<string, unknown> {
  const epoch = Math.floor(block.slot / CONSENSUS.slotsPerEpoch)
  return {
    stateHash: chain.stateHash(block.height),
    stateHashField: chain.stateHashField(block.height).toString(),
    creator: chain.accounts[0]?.publicKey,
    protocolState: {
      previousStateHash: chain.stateHash(block.height - 1),
      blockchainState: {
        date: String(block.timestamp),
        utcDate: String(block.timestamp),
        snarkedLedgerHash: ZERO_LEDGER_HASH,
        stagedLedgerHash: chain.stagedLedgerHash(block.height),
        stagedLedgerProofEmitted: false,
      },
      consensusState: {
        blockHeight: String(block.height),
        blockchainLength: String(block.height),
        epochCount: String(epoch),
        minWindowDensity: '0',
        lastVrfOutput: '',
        totalCurrency: chain.currency.toString(),
        hasAncestorInSameCheckpointWindow: true,
        slot: String(block.slot % CONSENSUS.slotsPerEpoch),
        slotSinceGenesis: String(block.slot),
        epoch: String(epoch),
        nextEpochData: epochData(chain),
        stakingEpochData: epochData(chain),
      },
    },
    transactions: { zkappCommands: block.commands.map(commandView), coinbase: '0' },
    commandTransactionCount: block.commands.length,
  }
}

function toGraphQLError(err: unknown): GraphQLError {
  if (err instanceof ChainError)
    return new GraphQLError(err.message, { extensions: { code: err.code } })
  return new GraphQLError((err as Error).message ?? String(err))
}

/** Builds the daemon root value over a chain. */
export function daemonRoot(chain: LocalChain): Record<string, unknown> {
  const startedAt = Date.now()
  return {
    account({ publicKey, token }: { publicKey: string; token?: string | null }) {
      const account = chain.getAccount(publicKey, token ?? undefined)
      return account ? accountView(chain, account) : null
    },
    accounts({ publicKey }: { publicKey: string }) {
      return chain
        .tokensOf(publicKey)
        .map((token) => chain.getAccount(publicKey, token))
        .filter((a): a is Types.Json.Account => a !== undefined)
        .map((a) => accountView(chain, a))
    },
    bestChain({ maxLength }: { maxLength?: number | null }) {
      return chain.bestChain(maxLength).map((b) => blockView(chain, b))
    },
    block({ stateHash, height }: { stateHash?: string | null; height?: number | null }) {
      const block =
        stateHash != null
          ? chain.blockByStateHash(stateHash)
          : height != null
            ? chain.blockAt(height)
            : chain.tip()
      if (!block)
        throw new GraphQLError(
          'Block not found (only recent blocks and blocks with commands are kept)',
        )
      return blockView(chain, block)
    },
    genesisConstants() {
      return {
        accountCreationFee: ACCOUNT_CREATION_FEE.toString(),
        coinbase: COINBASE.toString(),
        genesisTimestamp: new Date(chain.genesisTimestamp).toISOString(),
      }
    },
    daemonStatus() {
      const tip = chain.tip()
      return {
        chainId: chain.chainId,
        blockchainLength: tip.height,
        highestBlockLengthReceived: tip.height,
        highestUnvalidatedBlockLengthReceived: tip.height,
        syncStatus: 'SYNCED',
        consensusConfiguration: {
          delta: CONSENSUS.delta,
          k: CONSENSUS.k,
          slotsPerEpoch: CONSENSUS.slotsPerEpoch,
          slotDuration: chain.slotDurationMs,
          epochDuration: CONSENSUS.slotsPerEpoch * chain.slotDurationMs,
          genesisStateTimestamp: new Date(chain.genesisTimestamp).toISOString(),
          acceptableNetworkDelay: 0,
        },
        consensusMechanism: 'proof_of_stake',
        commitId: 'zkrunner-local-chain',
        uptimeSecs: Math.floor((Date.now() - startedAt) / 1000),
        numAccounts: null,
        stateHash: chain.stateHash(tip.height),
      }
    },
    // The daemon's runtimeConfig is the JSON it started with; a stop-slot release announces its
    // hard fork there (daemon.slot_tx_end, daemon.slot_chain_end). Only those parts are kept.
    runtimeConfig() {
      const { slotTxEnd, slotChainEnd } = chain.stopSlots
      const daemon: Record<string, number> = {}
      if (slotTxEnd !== undefined) daemon.slot_tx_end = slotTxEnd
      if (slotChainEnd !== undefined) daemon.slot_chain_end = slotChainEnd
      return { daemon, genesis: { k: CONSENSUS.k } }
    },
    syncStatus: () => 'SYNCED',
    networkID: () => 'mina:devnet',
    version: () => 'zkrunner-local-chain',
    transactionStatus({
      payment,
      zkappTransaction,
    }: {
      payment?: string | null
      zkappTransaction?: string | null
    }) {
      if (payment != null) throw new GraphQLError('This node has no payments; only zkApp commands')
      if (zkappTransaction == null)
        throw new GraphQLError('Invalid query: give either payment or zkappTransaction')
      return chain.findCommand(zkappTransaction) ? 'INCLUDED' : 'UNKNOWN'
    },
    pooledZkappCommands: () => [],
    async sendZkapp({ input }: { input: { zkappCommand: unknown } }) {
      try {
        const { command } = await chain.submitZkapp(input.zkappCommand)
        return { zkapp: commandView(command) }
      } catch (err) {
        throw toGraphQLError(err)
      }
    },
  }
}

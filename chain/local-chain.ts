import { createHash, randomBytes } from 'node:crypto'
import { Field, Mina, PublicKey, TokenId, Transaction, Types, UInt32, UInt64 } from 'o1js'
import { ArchiveIndex, type IndexedAccountUpdate, type TransactionInfo } from './archive-index.ts'
import { fieldToBase58 } from './base58.ts'
import type { ChainConfig } from './config.ts'
import { type DevAccount, deriveDevAccounts } from './dev-accounts.ts'
import { ChainError } from './errors.ts'
import { findBadSignature } from './signature-check.ts'
import {
  type ChainState,
  readStateFile,
  type SavedBlock,
  STATE_FORMAT,
  writeStateFile,
} from './state-file.ts'

/** Consensus constants reported to clients; Mina's, except the slot duration. */
export const CONSENSUS = { k: 290, slotsPerEpoch: 7140, delta: 0 } as const
/** Mina's account creation fee and coinbase, in nanomina. */
export const ACCOUNT_CREATION_FEE = 1_000_000_000n
export const COINBASE = 720_000_000_000n
/** Signatures are checked for this network id ('testnet' signs the same way). */
export const NETWORK_ID = 'devnet'

type ZkappCommandJson = Types.Json.ZkappCommand
type LocalBlockchain = Awaited<ReturnType<typeof Mina.LocalBlockchain>>

/** One failing account update of a failed command, as the daemon reports it. */
export interface FailureReason {
  index: string
  failures: string[]
}

/** A zkApp command included in a block. */
export interface IncludedCommand {
  hash: string
  json: ZkappCommandJson
  status: 'applied' | 'failed'
  /** Daemon display order: only failing updates, last first (o1js reverses it). */
  failureReason: FailureReason[] | null
  sequenceNumber: number
  accountUpdateIds: number[]
}

/** A block of the local chain. */
export interface Block {
  height: number
  slot: number
  timestamp: number
  commands: IncludedCommand[]
}

/** The outcome of sending a zkApp command that was accepted into a block. */
export interface SubmitResult {
  hash: string
  command: IncludedCommand
  block: Block
}

/** Receives one-line log messages of the chain. */
export type Logger = (line: string) => void

const DEFAULT_TOKEN = TokenId.toBase58(TokenId.default)

/** Number of recent blocks kept in memory and in the state file, as Mina's frontier holds k. */
const RECENT_BLOCKS = CONSENSUS.k + 1

function hashToField(...parts: (string | number)[]): bigint {
  const digest = createHash('sha256').update(parts.join('/')).digest()
  return BigInt(`0x${digest.toString('hex')}`) % Field.ORDER
}

function formatFailure(failure: unknown): string {
  if (!Array.isArray(failure)) return String(failure)
  const [name, ...args] = failure as [unknown, ...unknown[]]
  // The daemon prints the state index inside this failure's name.
  if (name === 'Account_app_state_precondition_unsatisfied' && args.length > 0)
    return `Account_app_state_${String(args[0])}_precondition_unsatisfied`
  return String(name)
}

/** Turns o1js's raw failure list (fee payer first) into the daemon's display order. */
export function toFailureReason(raw: unknown): FailureReason[] | null {
  if (!Array.isArray(raw)) return null
  const out: FailureReason[] = []
  raw.forEach((failures, index) => {
    if (Array.isArray(failures) && failures.length > 0)
      out.push({ index: String(index), failures: failures.map(formatFailure) })
  })
  return out.length > 0 ? out.reverse() : null
}

// o1js's LocalBlockchain reports an applied-but-failed command as one error string: either the
// raw failure list as JSON, or a readable text ending in "Raw list of errors: <json>".
function rawFailuresOf(message: string): unknown {
  try {
    return JSON.parse(message)
  } catch {
    const match = /Raw list of errors: (\[[\s\S]*\])\s*$/.exec(message)
    if (match?.[1] === undefined) return undefined
    try {
      return JSON.parse(match[1])
    } catch {
      return undefined
    }
  }
}

function authorizationKindOf(au: ZkappCommandJson['accountUpdates'][number]): string {
  const kind = au.body.authorizationKind
  if (kind.isProved) return 'Proof'
  if (kind.isSigned) return 'Signature'
  return 'None_given'
}

function reject(reason: string): ChainError {
  return new ChainError('TRANSACTION_REJECTED', `Couldn't send zkApp command: ${reason}`)
}

/**
 * A Mina chain on one machine: an o1js LocalBlockchain that applies every received command
 * with its own checks, wrapped in blocks and slots, with an archive index of events and actions.
 * Each accepted command is included at once in a block of its own; empty blocks follow the clock.
 */
export class LocalChain {
  readonly archive = new ArchiveIndex()
  readonly accounts: DevAccount[]
  private readonly recent: Block[] = []
  private readonly blocksWithCommands = new Map<number, Block>()
  private readonly commandIndex = new Map<string, { height: number; sequenceNumber: number }>()
  private readonly tokenAccounts = new Map<string, Set<string>>()
  private nextAccountUpdateId = 1
  private queue: Promise<unknown> = Promise.resolve()
  private saving: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private saveTimer: NodeJS.Timeout | undefined
  private closed = false
  private manualSlot = 0

  private constructor(
    private readonly config: ChainConfig,
    private readonly local: LocalBlockchain,
    readonly chainId: string,
    readonly genesisTimestamp: number,
    private clockOffsetMs: number,
    private readonly totalCurrency: bigint,
    private readonly log: Logger,
  ) {
    this.accounts = deriveDevAccounts(config.seed, config.accounts)
  }

  /** Starts a chain: a fresh ledger with the dev accounts, then the state file replayed if any. */
  static async create(config: ChainConfig, log: Logger = () => {}): Promise<LocalChain> {
    const saved = config.stateFile ? await readStateFile(config.stateFile) : undefined
    if (saved && saved.slotDurationMs !== config.blockIntervalMs)
      log(
        `state file was saved with ${saved.slotDurationMs} ms slots; using them instead of ${config.blockIntervalMs} ms`,
      )
    const effective: ChainConfig = saved
      ? {
          ...config,
          seed: saved.seed,
          accounts: saved.accounts,
          accountBalance: BigInt(saved.accountBalance),
          blockIntervalMs: saved.slotDurationMs,
        }
      : config
    const local = await Mina.LocalBlockchain({ proofsEnabled: config.proofsEnabled })
    const total = effective.accountBalance * BigInt(effective.accounts)
    const chain = new LocalChain(
      effective,
      local,
      saved?.chainId ?? randomBytes(16).toString('hex'),
      saved?.genesisTimestamp ?? Date.now(),
      saved?.clockOffsetMs ?? 0,
      total,
      log,
    )
    for (const account of chain.accounts)
      local.addAccount(PublicKey.fromBase58(account.publicKey), effective.accountBalance.toString())
    local.setTotalCurrency(UInt64.from(total))
    if (saved) await chain.replay(saved)
    else chain.pushBlock({ height: 1, slot: 0, timestamp: chain.genesisTimestamp, commands: [] })
    chain.manualSlot = chain.tip().slot
    if (config.autoAdvance)
      chain.timer = setInterval(() => {
        void chain.produceBlock().catch((err: unknown) => log(`block production failed: ${err}`))
      }, effective.blockIntervalMs).unref()
    return chain
  }

  /** Slot duration in milliseconds. */
  get slotDurationMs(): number {
    return this.config.blockIntervalMs
  }

  /** The hard fork's stop slots this node announces (runtimeConfig.daemon), if any. */
  get stopSlots(): { slotTxEnd: number | undefined; slotChainEnd: number | undefined } {
    return { slotTxEnd: this.config.slotTxEnd, slotChainEnd: this.config.slotChainEnd }
  }

  /** Whether received proofs are verified. */
  get proofsEnabled(): boolean {
    return this.config.proofsEnabled
  }

  /** The best block. */
  tip(): Block {
    const tip = this.recent[this.recent.length - 1]
    if (tip === undefined) throw new Error('chain has no blocks')
    return tip
  }

  /** The current global slot since genesis: from the clock, or only moved on demand. */
  slotNow(): number {
    if (!this.config.autoAdvance) return this.manualSlot
    const elapsed = Date.now() + this.clockOffsetMs - this.genesisTimestamp
    return Math.max(0, Math.floor(elapsed / this.slotDurationMs))
  }

  /** Wall-clock time of the chain, including slots skipped on demand. */
  now(): number {
    return this.config.autoAdvance
      ? Date.now() + this.clockOffsetMs
      : this.genesisTimestamp + this.manualSlot * this.slotDurationMs
  }

  /** Base58 state hash of the block at a height (deterministic per chain). */
  stateHash(height: number): string {
    return fieldToBase58('stateHash', this.stateHashField(height))
  }

  /** The state hash of a block at a height as a field element. */
  stateHashField(height: number): bigint {
    return hashToField(this.chainId, 'state', height)
  }

  /** Base58 staged ledger hash of a block. */
  stagedLedgerHash(height: number): string {
    return fieldToBase58('ledgerHash', hashToField(this.chainId, 'staged-ledger', height))
  }

  /** Total currency as reported in consensus state and used for preconditions. */
  get currency(): bigint {
    return this.totalCurrency
  }

  /** The most recent blocks, oldest first, at most `maxLength` (and at most k+1). */
  bestChain(maxLength?: number | null): Block[] {
    const n = maxLength == null || maxLength <= 0 ? this.recent.length : maxLength
    return this.recent.slice(Math.max(0, this.recent.length - n))
  }

  /** A block by height, if it is recent or includes commands. */
  blockAt(height: number): Block | undefined {
    const withCommands = this.blocksWithCommands.get(height)
    if (withCommands) return withCommands
    return this.recent.find((b) => b.height === height)
  }

  /** A block by base58 state hash, if known. */
  blockByStateHash(stateHash: string): Block | undefined {
    for (const b of this.recent) if (this.stateHash(b.height) === stateHash) return b
    for (const b of this.blocksWithCommands.values())
      if (this.stateHash(b.height) === stateHash) return b
    return undefined
  }

  /** The block and position of an included command, by hash. */
  findCommand(hash: string): { block: Block; command: IncludedCommand } | undefined {
    const where = this.commandIndex.get(hash)
    if (!where) return undefined
    const block = this.blocksWithCommands.get(where.height)
    const command = block?.commands[where.sequenceNumber]
    return block && command ? { block, command } : undefined
  }

  /** An account as o1js JSON, or undefined when it does not exist. */
  getAccount(publicKey: string, tokenId: string = DEFAULT_TOKEN): Types.Json.Account | undefined {
    const pk = PublicKey.fromBase58(publicKey)
    const token = TokenId.fromBase58(tokenId)
    if (!this.local.hasAccount(pk, token)) return undefined
    return Types.Account.toJSON(this.local.getAccount(pk, token))
  }

  /** Token ids (base58) of the accounts a public key holds, default token first. */
  tokensOf(publicKey: string): string[] {
    const known = this.tokenAccounts.get(publicKey) ?? new Set<string>()
    return [DEFAULT_TOKEN, ...[...known].filter((t) => t !== DEFAULT_TOKEN)]
  }

  /**
   * Checks and applies a zkApp command received as o1js JSON, and includes it in a new block.
   * Throws a TRANSACTION_REJECTED error for commands the daemon would refuse into its pool;
   * commands that fail while being applied are included as failed, their fee charged.
   */
  submitZkapp(input: unknown): Promise<SubmitResult> {
    return this.exclusive(() => this.applyCommand(input))
  }

  /** Produces an empty block at the current slot. */
  produceBlock(): Promise<Block> {
    return this.exclusive(async () => this.seal([]))
  }

  /** Moves the chain `n` slots ahead and produces a block there. */
  advanceSlots(n: number): Promise<Block> {
    if (!Number.isInteger(n) || n < 0 || n > 1_000_000)
      throw new ChainError('QUERY_INVALID', 'slots to advance must be an integer in 0..1000000')
    return this.exclusive(async () => {
      if (this.config.autoAdvance) this.clockOffsetMs += n * this.slotDurationMs
      else this.manualSlot += n
      return this.seal([])
    })
  }

  /** Writes the state file now, if one is configured; writes never overlap. */
  save(): Promise<void> {
    const file = this.config.stateFile
    if (!file) return Promise.resolve()
    const run = this.saving.then(() => writeStateFile(file, this.toState()))
    this.saving = run.catch(() => {})
    return run
  }

  /** Stops block production and saves the state. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    clearTimeout(this.saveTimer)
    await this.queue.catch(() => {})
    await this.save()
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ChainError('CLOSED', 'the chain is closed'))
    const run = this.queue.then(task, task)
    this.queue = run.catch(() => {})
    return run
  }

  private async applyCommand(input: unknown): Promise<SubmitResult> {
    let tx: Mina.Transaction<false, false>
    let json: ZkappCommandJson
    try {
      tx = Mina.Transaction.fromJSON(input as ZkappCommandJson) as Mina.Transaction<false, false>
      json = JSON.parse(tx.toJSON()) as ZkappCommandJson
    } catch (err) {
      throw new ChainError(
        'TRANSACTION_MALFORMED',
        `Couldn't send zkApp command: malformed zkApp command: ${(err as Error).message}`,
      )
    }
    const hash = await Transaction.hash(json)
    const slot = this.slotNow()
    // A stop-slot release takes no transactions from its stop slot on (Mina's mempool answers
    // After_slot_tx_end): the window users have to withdraw before a hard fork ends there.
    const { slotTxEnd, slotChainEnd } = this.config
    const stop = Math.min(slotTxEnd ?? Infinity, slotChainEnd ?? Infinity)
    if (slot >= stop) throw reject('After_slot_tx_end')
    this.checkFeePayer(json, slot)
    const badSignature = await findBadSignature(json, NETWORK_ID)
    if (badSignature) throw reject(`Verification_failed: ${badSignature}`)

    // Preconditions see the parent block's length and the new block's slot, as in Mina.
    const tip = this.tip()
    this.local.setBlockchainLength(UInt32.from(tip.height))
    this.local.setGlobalSlot(UInt32.from(Math.max(slot, tip.slot)))
    const feePayer = PublicKey.fromBase58(json.feePayer.body.publicKey)
    const nonceBefore = this.local.getAccount(feePayer).nonce.toBigint()
    let pending: Awaited<ReturnType<LocalBlockchain['sendTransaction']>>
    try {
      pending = await this.local.sendTransaction(tx)
    } catch (err) {
      throw reject(`Verification_failed: ${firstLine((err as Error).message)}`)
    }
    const nonceAfter = this.local.getAccount(feePayer).nonce.toBigint()
    let status: IncludedCommand['status'] = 'applied'
    let failureReason: FailureReason[] | null = null
    if (pending.status === 'rejected') {
      const message = pending.errors.join('\n')
      if (nonceAfter === nonceBefore) throw reject(cleanLedgerError(message))
      status = 'failed'
      failureReason = toFailureReason(rawFailuresOf(message)) ?? [
        { index: '0', failures: [firstLine(message)] },
      ]
    }
    const command = this.makeCommand(hash, json, status, failureReason)
    const block = this.seal([command])
    this.log(
      `block ${block.height} slot ${block.slot}: zkApp command ${hash} ${status}${
        failureReason ? ` (${failureReason.flatMap((f) => f.failures).join(', ')})` : ''
      }`,
    )
    return { hash, command, block }
  }

  // The checks a daemon's transaction pool makes on the fee payer before accepting a command.
  private checkFeePayer(json: ZkappCommandJson, slot: number): void {
    const body = json.feePayer.body
    const fee = BigInt(body.fee)
    if (fee < this.config.minFee)
      throw reject(`Insufficient_fee: fee ${fee} is below the minimum ${this.config.minFee}`)
    const account = this.getAccount(body.publicKey)
    if (!account) throw reject(`Fee_payer_account_not_found: ${body.publicKey}`)
    if (account.nonce !== body.nonce)
      throw reject(
        `Invalid_nonce: account nonce is ${account.nonce}, command nonce is ${body.nonce}`,
      )
    if (BigInt(account.balance) < fee)
      throw reject(`Insufficient_funds: balance ${account.balance} is below the fee ${fee}`)
    if (body.validUntil !== null && BigInt(body.validUntil) < BigInt(slot))
      throw reject(`Expired: valid until slot ${body.validUntil}, current slot ${slot}`)
  }

  private makeCommand(
    hash: string,
    json: ZkappCommandJson,
    status: IncludedCommand['status'],
    failureReason: FailureReason[] | null,
  ): IncludedCommand {
    const accountUpdateIds = json.accountUpdates.map(() => this.nextAccountUpdateId++)
    return { hash, json, status, failureReason, sequenceNumber: 0, accountUpdateIds }
  }

  // Closes a block over the given commands (already applied to the ledger) and indexes them.
  private seal(commands: IncludedCommand[], at?: { slot: number; timestamp: number }): Block {
    const tip = this.tip()
    const block: Block = {
      height: tip.height + 1,
      slot: at?.slot ?? Math.max(this.slotNow(), tip.slot),
      timestamp: at?.timestamp ?? this.now(),
      commands,
    }
    commands.forEach((c, i) => {
      c.sequenceNumber = i
      this.indexCommand(block, c)
    })
    this.pushBlock(block)
    if (commands.length > 0) this.scheduleSave()
    return block
  }

  private pushBlock(block: Block): void {
    this.recent.push(block)
    if (this.recent.length > RECENT_BLOCKS) this.recent.shift()
    if (block.commands.length > 0) this.blocksWithCommands.set(block.height, block)
  }

  private indexCommand(block: Block, command: IncludedCommand): void {
    this.commandIndex.set(command.hash, {
      height: block.height,
      sequenceNumber: command.sequenceNumber,
    })
    if (command.status !== 'applied') return
    const updates: IndexedAccountUpdate[] = command.json.accountUpdates.map((au, i) => ({
      publicKey: au.body.publicKey,
      tokenId: au.body.tokenId,
      accountUpdateId: command.accountUpdateIds[i] ?? 0,
      events: au.body.events,
      actions: au.body.actions,
    }))
    for (const au of updates) {
      const tokens = this.tokenAccounts.get(au.publicKey) ?? new Set<string>()
      tokens.add(au.tokenId)
      this.tokenAccounts.set(au.publicKey, tokens)
    }
    command.json.accountUpdates.forEach((au, i) => {
      const info: TransactionInfo = {
        status: command.status,
        hash: command.hash,
        memo: command.json.memo,
        authorizationKind: authorizationKindOf(au),
        sequenceNumber: command.sequenceNumber,
        zkappAccountUpdateIds: command.accountUpdateIds,
      }
      const update = updates[i]
      if (update) this.archive.record(block.height, info, [update])
    })
  }

  private scheduleSave(): void {
    if (!this.config.stateFile || this.saveTimer) return
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined
      void this.save().catch((err: unknown) => this.log(`saving state failed: ${err}`))
    }, 200)
    this.saveTimer.unref()
  }

  private toState(): ChainState {
    const toSaved = (b: Block): SavedBlock => ({
      height: b.height,
      slot: b.slot,
      timestamp: b.timestamp,
      commands: b.commands.map((c) => ({
        json: c.json as unknown as Record<string, unknown>,
        status: c.status,
      })),
    })
    return {
      format: STATE_FORMAT,
      chainId: this.chainId,
      genesisTimestamp: this.genesisTimestamp,
      slotDurationMs: this.slotDurationMs,
      clockOffsetMs: this.config.autoAdvance
        ? this.clockOffsetMs
        : this.manualSlot * this.slotDurationMs,
      seed: this.config.seed,
      accounts: this.config.accounts,
      accountBalance: this.config.accountBalance.toString(),
      blocks: [...this.blocksWithCommands.values()]
        .sort((a, b) => a.height - b.height)
        .map(toSaved),
      recent: this.recent.map(({ height, slot, timestamp }) => ({ height, slot, timestamp })),
    }
  }

  // Rebuilds the ledger by applying the saved commands at their saved slots and heights. The
  // commands were checked (signatures, proofs) when first received; replay trusts the file and
  // only re-runs the ledger's transaction logic, which must reproduce each saved outcome.
  private async replay(saved: ChainState): Promise<void> {
    this.pushBlock({ height: 1, slot: 0, timestamp: saved.genesisTimestamp, commands: [] })
    for (const savedBlock of saved.blocks) {
      this.local.setBlockchainLength(UInt32.from(savedBlock.height - 1))
      this.local.setGlobalSlot(UInt32.from(savedBlock.slot))
      const commands: IncludedCommand[] = []
      for (const { json, status } of savedBlock.commands) {
        const command = json as unknown as ZkappCommandJson
        let outcome: IncludedCommand['status'] = 'applied'
        let failureReason: FailureReason[] | null = null
        try {
          this.local.applyJsonTransaction(JSON.stringify(command))
        } catch (err) {
          outcome = 'failed'
          failureReason = toFailureReason(rawFailuresOf((err as Error).message))
        }
        if (outcome !== status)
          throw new ChainError(
            'STATE_FILE_INVALID',
            `replaying block ${savedBlock.height}: command was ${status} when saved but ${outcome} now`,
          )
        const hash = await Transaction.hash(command)
        commands.push(this.makeCommand(hash, command, outcome, failureReason))
      }
      const block: Block = { ...savedBlock, commands }
      commands.forEach((c, i) => {
        c.sequenceNumber = i
        this.indexCommand(block, c)
      })
      this.blocksWithCommands.set(block.height, block)
    }
    // Recent blocks come back as saved; those with commands point at the replayed ones.
    this.recent.length = 0
    for (const r of saved.recent)
      this.recent.push(this.blocksWithCommands.get(r.height) ?? { ...r, commands: [] })
    if (this.recent.length === 0) {
      const last = saved.blocks[saved.blocks.length - 1]
      this.recent.push(
        last
          ? (this.blocksWithCommands.get(last.height) as Block)
          : { height: 1, slot: 0, timestamp: saved.genesisTimestamp, commands: [] },
      )
    }
    this.log(
      `replayed ${saved.blocks.reduce((n, b) => n + b.commands.length, 0)} commands from ${this.config.stateFile}; tip is block ${this.tip().height}`,
    )
  }
}

function firstLine(message: string): string {
  return message.split('\n').find((l) => l.trim() !== '') ?? message
}

// Ledger errors for commands that never applied read like
// `Error: File "src/.../zkapp_command_logic.ml", line 1936, ...: [[0,[["Some_failure"]]]]`;
// keep the failure names only.
function cleanLedgerError(message: string): string {
  const names = [...message.matchAll(/\["([A-Z][A-Za-z0-9_]*)"/g)].map((m) => m[1])
  if (names.length > 0) return [...new Set(names)].join(', ')
  return firstLine(message)
}

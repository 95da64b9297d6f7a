import {
  decodeHeartbeat,
  decodeTerms,
  fieldsToCid,
  fieldToSourceCommitment,
  LedgerReadError,
  type LedgerReading,
  publicKeyToFields,
  readLedgerBook,
  readLedgerSolvency,
  readServiceAccountsWith,
  type ServiceAccounts,
  type ServiceHeartbeat,
  ServiceState,
  type ServiceTerms,
  type SolvencyVerdict,
  type StopSlots,
  sameSourceCommitment,
  sourceCommitmentToField,
  stopSlotsOf,
} from '../protocol/index.ts'
import { VerifyError, VerifyErrorCode } from './errors.ts'
import { fieldsToPublicKey } from './mina-address.ts'

/** One event as the archive returns it: the block it is in and its fields (type index first). */
export interface ChainEvent {
  height: number
  slot: number
  /** The block's status in the archive: `canonical`, `pending` (not yet final) or `orphaned`. */
  chainStatus: string
  /** Order within the block: the transaction's sequence number, then the event's place in the answer. */
  sequence: number
  index: number
  data: bigint[]
}

/**
 * Blocks an archive scans for one events query: the archive node API limits a query to a fixed
 * range (10,000 by default) and answers only the newest blocks of a longer one, so older events
 * would silently vanish. The reader pages through the chain in windows of this size.
 */
export const ARCHIVE_BLOCK_RANGE = 10_000

/** Orders events as the chain does: by block, then by place within the block. */
export const chainOrder = (a: ChainEvent, b: ChainEvent): number =>
  a.height - b.height || a.sequence - b.sequence || a.index - b.index

/** What the page reads from Mina: narrow, so tests answer it with a small GraphQL double. */
export interface ChainReader {
  /** The 8 app-state fields of the zkApp at `address`, or null when there is none. */
  zkappState(address: string): Promise<bigint[] | null>
  /** Both accounts of a service (code, permissions, state, escrow) for the genuine check. */
  serviceAccounts(service: string, creditTokenId: string): Promise<ServiceAccounts>
  /** The balance of `(owner, tokenId)`; 0 when the account does not exist. */
  balance(owner: string, tokenId?: string): Promise<bigint>
  /** The global slot of the best tip. */
  currentSlot(): Promise<bigint>
  /** Every event of `address` in chain order, oldest first (from the archive, all of its history). */
  events(address: string): Promise<ChainEvent[]>
  /**
   * The channels of the ChannelLedger at `ledger` (protocol's readLedgerBook: the archive's
   * actions, accepted only when they hash to the node's action state). `processed`: only what
   * its batches have applied (what it has paid).
   */
  ledgerBook(
    ledger: string,
    terms: ServiceTerms,
    options?: { processed?: boolean },
  ): Promise<LedgerReading>
  /**
   * Whether the ledger at `ledger` is solvent (protocol's readLedgerSolvency: its state rebuilt
   * from its actions, its escrow at `(ledger, creditTokenId)` covering what it owes).
   */
  ledgerSolvency(ledger: string, creditTokenId: string): Promise<SolvencyVerdict>
  /** The hard fork's stop slots the node announces in `runtimeConfig` (none when it has none). */
  stopSlots(): Promise<StopSlots>
}

const quote = (s: string) => JSON.stringify(s)
const toBigint = (v: unknown): bigint => {
  if (typeof v === 'string' || typeof v === 'number') return BigInt(v)
  throw new TypeError('not a number')
}

/**
 * The `data` of a GraphQL read sent to `url` (a Mina node or the archive API); a node that does not
 * answer, answers an HTTP error or no data is CHAIN_UNAVAILABLE. Every document sent is a read.
 */
export async function graphqlQuery(
  url: string,
  query: string,
  fetchFn: typeof fetch = (...a) => fetch(...a),
): Promise<Record<string, unknown>> {
  const send = () =>
    fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    })
  let res: Response
  try {
    res = await send()
  } catch {
    // Every document here is a read, so asking twice is safe. A kept-alive connection the node
    // closed while idle fails the first request after a long pause without reaching the node.
    try {
      res = await send()
    } catch {
      throw new VerifyError(VerifyErrorCode.CHAIN_UNAVAILABLE, `${url} did not answer`)
    }
  }
  if (!res.ok)
    throw new VerifyError(VerifyErrorCode.CHAIN_UNAVAILABLE, `${url}: HTTP ${res.status}`)
  const body = (await res.json().catch(() => ({}))) as {
    data?: Record<string, unknown> | null
    errors?: { message?: string }[]
  }
  // A missing account comes back as `account: null` beside an error on some nodes: data wins.
  if (!body.data) {
    throw new VerifyError(VerifyErrorCode.CHAIN_UNAVAILABLE, body.errors?.[0]?.message ?? 'no data')
  }
  return body.data
}

/** Reads Mina GraphQL and the archive API with the same documents o1js sends; no o1js needed. */
export class GraphqlChainReader implements ChainReader {
  constructor(
    readonly graphqlUrl: string,
    readonly archiveUrl: string,
    readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {}

  #query(url: string, query: string): Promise<Record<string, unknown>> {
    return graphqlQuery(url, query, this.fetchFn)
  }

  async zkappState(address: string): Promise<bigint[] | null> {
    const data = await this.#query(
      this.graphqlUrl,
      `{ account(publicKey: ${quote(address)}) { zkappState } }`,
    )
    const account = data.account as { zkappState?: unknown } | null
    if (!account || !Array.isArray(account.zkappState)) return null
    return account.zkappState.map(toBigint)
  }

  async serviceAccounts(service: string, creditTokenId: string): Promise<ServiceAccounts> {
    const parsed = await readServiceAccountsWith(
      (document) => this.#query(this.graphqlUrl, document),
      service,
      creditTokenId,
    )
    if (!parsed.ok) throw new VerifyError(VerifyErrorCode.CHAIN_UNAVAILABLE, parsed.message)
    return parsed.value
  }

  async balance(owner: string, tokenId?: string): Promise<bigint> {
    const token = tokenId ? `, token: ${quote(tokenId)}` : ''
    const data = await this.#query(
      this.graphqlUrl,
      `{ account(publicKey: ${quote(owner)}${token}) { balance { total } } }`,
    )
    const account = data.account as { balance?: { total?: unknown } } | null
    return account ? toBigint(account.balance?.total) : 0n
  }

  async currentSlot(): Promise<bigint> {
    const data = await this.#query(
      this.graphqlUrl,
      '{ bestChain(maxLength: 1) { protocolState { consensusState { slotSinceGenesis } } } }',
    )
    const chain = data.bestChain as
      | { protocolState?: { consensusState?: { slotSinceGenesis?: unknown } } }[]
      | null
    return toBigint(chain?.[0]?.protocolState?.consensusState?.slotSinceGenesis)
  }

  async stopSlots(): Promise<StopSlots> {
    const data = await this.#query(this.graphqlUrl, '{ runtimeConfig }')
    return stopSlotsOf(data.runtimeConfig)
  }

  async ledgerBook(
    ledger: string,
    terms: ServiceTerms,
    options: { processed?: boolean } = {},
  ): Promise<LedgerReading> {
    try {
      return await readLedgerBook(
        {
          node: (d) => this.#query(this.graphqlUrl, d),
          archive: (d) => this.#query(this.archiveUrl, d),
        },
        ledger,
        terms,
        options,
      )
    } catch (e) {
      if (e instanceof LedgerReadError)
        throw new VerifyError(
          VerifyErrorCode.CHAIN_UNAVAILABLE,
          `the ledger's actions (${e.code}): ${e.message}`,
        )
      throw e
    }
  }

  async ledgerSolvency(ledger: string, creditTokenId: string): Promise<SolvencyVerdict> {
    try {
      return await readLedgerSolvency(
        {
          node: (d) => this.#query(this.graphqlUrl, d),
          archive: (d) => this.#query(this.archiveUrl, d),
        },
        ledger,
        creditTokenId,
      )
    } catch (e) {
      if (e instanceof LedgerReadError)
        throw new VerifyError(
          VerifyErrorCode.CHAIN_UNAVAILABLE,
          `the ledger's solvency (${e.code}): ${e.message}`,
        )
      throw e
    }
  }

  async events(address: string): Promise<ChainEvent[]> {
    const state = await this.#query(
      this.archiveUrl,
      '{ networkState { maxBlockHeight { pendingMaxBlockHeight } } }',
    )
    const tip = (state.networkState as { maxBlockHeight?: { pendingMaxBlockHeight?: unknown } })
      ?.maxBlockHeight?.pendingMaxBlockHeight
    if (typeof tip !== 'number' || !Number.isSafeInteger(tip) || tip < 0)
      throw new VerifyError(VerifyErrorCode.CHAIN_UNAVAILABLE, 'the archive names no block height')
    // Windows [from, to) from genesis to the tip, `to` exclusive as the archive's filter is.
    const windows: [number, number][] = []
    for (let from = 0; from <= tip; from += ARCHIVE_BLOCK_RANGE)
      windows.push([from, Math.min(from + ARCHIVE_BLOCK_RANGE, tip + 1)])
    const out: ChainEvent[] = []
    for (let i = 0; i < windows.length; i += 4) {
      const pages = await Promise.all(
        windows.slice(i, i + 4).map(([from, to]) => this.#eventsIn(address, from, to)),
      )
      for (const page of pages) out.push(...page)
    }
    return out.sort(chainOrder)
  }

  async #eventsIn(address: string, from: number, to: number): Promise<ChainEvent[]> {
    const data = await this.#query(
      this.archiveUrl,
      `{ events(input: { address: ${quote(address)}, from: ${from}, to: ${to} }) { blockInfo { height globalSlotSinceGenesis chainStatus } eventData { transactionInfo { sequenceNumber status } data } } }`,
    )
    const out: ChainEvent[] = []
    for (const block of (data.events ?? []) as {
      blockInfo?: { height?: number; globalSlotSinceGenesis?: number; chainStatus?: string }
      eventData?: {
        transactionInfo?: { sequenceNumber?: number; status?: string }
        data?: unknown[]
      }[]
    }[]) {
      for (const [index, e] of (block.eventData ?? []).entries()) {
        // A failed transaction changed nothing, whatever events it carried.
        if (e.transactionInfo?.status === 'failed') continue
        out.push({
          height: block.blockInfo?.height ?? 0,
          slot: block.blockInfo?.globalSlotSinceGenesis ?? 0,
          chainStatus: block.blockInfo?.chainStatus ?? 'unknown',
          sequence: e.transactionInfo?.sequenceNumber ?? 0,
          index,
          data: (e.data ?? []).map(toBigint),
        })
      }
    }
    return out
  }
}

// o1js numbers a contract's event types by their sorted names.
const REGISTRY_PUBLISHED = 0n
const REGISTRY_RETIRED = 1n

/** One listing in the registry: who published which service contract, with which descriptor. */
export interface RegistryEntry {
  service: string
  operator: string
  descriptorCid: string | null
  height: number
  /**
   * CIDs the same operator published for the same service after the first, newest first: reveal
   * documents of a private service (the registry's Published event is the operator-signed path, so
   * a reveal needs no new contract method). Readers check each against the contract.
   */
  laterCids: string[]
}

/** A listing with whether its operator has since retired it. */
export interface RegistryListing extends RegistryEntry {
  retired: boolean
}

/**
 * Every listing the registry holds, newest first, keyed by (service, operator) so nobody's
 * publish or retire touches another operator's entry; each is marked retired when the operator who
 * published it retired it. Anyone can publish anything: callers keep only entries whose operator is
 * the service's own runner (`Poseidon(operator) == runnerKeyHash`, `ownListings`).
 */
export function registryListings(events: readonly ChainEvent[]): RegistryListing[] {
  const all = new Map<string, RegistryListing>()
  const key = (service: string, operator: string) => `${service}|${operator}`
  for (const e of events) {
    const [kind, sx, sOdd, ox, oOdd, c0, c1] = e.data
    if (sx === undefined || sOdd === undefined || ox === undefined || oOdd === undefined) continue
    const service = fieldsToPublicKey(sx, sOdd)
    const operator = fieldsToPublicKey(ox, oOdd)
    if (!service || !operator) continue
    if (kind === REGISTRY_PUBLISHED && c0 !== undefined && c1 !== undefined) {
      const cid = fieldsToCid([c0, c1])
      const earlier = all.get(key(service, operator))
      if (earlier && cid.ok && !earlier.retired) {
        // The first listing names the descriptor; a later one by the same key is a reveal.
        const text = cid.value.toString()
        if (text !== earlier.descriptorCid && !earlier.laterCids.includes(text))
          earlier.laterCids.unshift(text)
        continue
      }
      all.set(key(service, operator), {
        service,
        operator,
        descriptorCid: cid.ok ? cid.value.toString() : null,
        height: e.height,
        laterCids: [],
        retired: false,
      })
    } else if (kind === REGISTRY_RETIRED) {
      const listing = all.get(key(service, operator))
      if (listing) listing.retired = true
    }
  }
  return [...all.values()].sort((a, b) => b.height - a.height)
}

/** The registry's live listings (Published minus Retired by the same operator), newest first. */
export function registryEntries(events: readonly ChainEvent[]): RegistryEntry[] {
  return registryListings(events)
    .filter((l) => !l.retired)
    .map(({ retired: _retired, ...entry }) => entry)
}

/**
 * The entries a page may show: one per service, published by the service's own runner key (whose
 * Poseidon hash the contract froze as runnerKeyHash); a stranger's entries are dropped.
 */
export async function ownListings(
  entries: readonly RegistryEntry[],
  runnerKeyHash: (service: string) => Promise<bigint | null>,
  poseidon: (fields: bigint[]) => Promise<bigint>,
): Promise<RegistryEntry[]> {
  const out = new Map<string, RegistryEntry>()
  for (const e of entries) {
    if (out.has(e.service)) continue
    const frozen = await runnerKeyHash(e.service).catch(() => null)
    const fields = publicKeyToFields(e.operator)
    if (frozen === null || !fields.ok) continue
    if ((await poseidon(fields.value)) === frozen) out.set(e.service, e)
  }
  return [...out.values()]
}

/** A service contract's state, decoded for display and verification. */
export interface ServiceOnChain {
  sourceCommitment: string
  descriptorCid: string | null
  terms: ServiceTerms
  heartbeat: ServiceHeartbeat
  runnerKeyHash: bigint
  workerKeyHash: bigint
}

/** Decodes the 8 state fields of a service contract with the protocol's chain layout. */
export function decodeServiceState(state: readonly bigint[]): ServiceOnChain {
  const at = (i: number) => state[i] ?? 0n
  const cid = fieldsToCid([at(ServiceState.descriptorCid0), at(ServiceState.descriptorCid1)])
  return {
    sourceCommitment: fieldToSourceCommitment(at(ServiceState.sourceCommitment)),
    descriptorCid: cid.ok ? cid.value.toString() : null,
    terms: decodeTerms(at(ServiceState.terms)),
    heartbeat: decodeHeartbeat(at(ServiceState.heartbeat)),
    runnerKeyHash: at(ServiceState.runnerKeyHash),
    workerKeyHash: at(ServiceState.workerKeyHash),
  }
}

/** True when a source commitment (a commit SHA or a private one) is the one frozen in the state. */
export const sameCommit = (state: ServiceOnChain, commitment: string): boolean =>
  sameSourceCommitment(commitment, sourceCommitmentToField(state.sourceCommitment))

import { GraphQLError } from 'graphql'
import { PublicKey, TokenId } from 'o1js'
import type { ActionEntry, EventEntry } from '../archive-index.ts'
import { fieldToBase58 } from '../base58.ts'
import { ChainError } from '../errors.ts'
import { CONSENSUS, type LocalChain } from '../local-chain.ts'

// Resolvers of the archive schema. Answers are grouped per block like the archive node API's:
// events newest block first, actions oldest first, with the action state before and after
// each group so that o1js can re-hash and check them.

type Status = 'ALL' | 'PENDING' | 'CANONICAL'

interface FilterInput {
  address: string
  tokenId?: string | null
  status?: Status | null
  from?: number | null
  to?: number | null
}

interface ActionFilterInput extends FilterInput {
  fromActionState?: string | null
  endActionState?: string | null
}

const ZERO_LEDGER_HASH = fieldToBase58('ledgerHash', 0n)
const DEFAULT_TOKEN = TokenId.toBase58(TokenId.default)

function checkInput(input: FilterInput): { address: string; tokenId: string } {
  try {
    PublicKey.fromBase58(input.address)
  } catch {
    throw new GraphQLError(`invalid address: ${input.address.slice(0, 80)}`)
  }
  const tokenId = input.tokenId ?? DEFAULT_TOKEN
  try {
    TokenId.fromBase58(tokenId)
  } catch {
    throw new GraphQLError(`invalid tokenId: ${tokenId.slice(0, 80)}`)
  }
  if (input.from != null && input.to != null && input.to < input.from)
    throw new GraphQLError('to must be greater than from')
  return { address: input.address, tokenId }
}

function chainStatus(chain: LocalChain, height: number): 'canonical' | 'pending' {
  // Like an archive: blocks at least k deep are final, newer ones pending.
  return chain.tip().height - height >= CONSENSUS.k ? 'canonical' : 'pending'
}

function blockInfo(chain: LocalChain, height: number) {
  const block = chain.blockAt(height)
  return {
    height,
    stateHash: chain.stateHash(height),
    parentHash: chain.stateHash(height - 1),
    ledgerHash: ZERO_LEDGER_HASH,
    chainStatus: chainStatus(chain, height),
    timestamp: String(block?.timestamp ?? 0),
    globalSlotSinceHardfork: block?.slot ?? 0,
    globalSlotSinceGenesis: block?.slot ?? 0,
    distanceFromMaxBlockHeight: chain.tip().height - height,
  }
}

function keepStatus(chain: LocalChain, height: number, status: Status | null | undefined): boolean {
  if (status == null || status === 'ALL') return true
  return chainStatus(chain, height) === status.toLowerCase()
}

function groupByHeight<T extends EventEntry>(entries: T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>()
  for (const e of entries) {
    const group = groups.get(e.height) ?? []
    group.push(e)
    groups.set(e.height, group)
  }
  return groups
}

/** Builds the archive root value over a chain. */
export function archiveRoot(chain: LocalChain): Record<string, unknown> {
  return {
    events({ input }: { input: FilterInput }) {
      const { address, tokenId } = checkInput(input)
      const groups = groupByHeight(chain.archive.events(address, tokenId, input))
      return [...groups.entries()]
        .filter(([height]) => keepStatus(chain, height, input.status))
        .sort(([a], [b]) => b - a)
        .map(([height, entries]) => ({
          blockInfo: blockInfo(chain, height),
          eventData: entries.flatMap((e) =>
            e.events.map((data) => ({
              accountUpdateId: String(e.accountUpdateId),
              transactionInfo: e.transactionInfo,
              data,
            })),
          ),
        }))
    },
    actions({ input }: { input: ActionFilterInput }) {
      const { address, tokenId } = checkInput(input)
      let entries: ActionEntry[]
      try {
        entries = chain.archive.actions(address, tokenId, input)
      } catch (err) {
        if (err instanceof ChainError)
          throw new GraphQLError(err.message, { extensions: { code: err.code } })
        throw err
      }
      const groups = groupByHeight(entries)
      return [...groups.entries()]
        .filter(([height]) => keepStatus(chain, height, input.status))
        .sort(([a], [b]) => a - b)
        .map(([height, group]) => ({
          blockInfo: blockInfo(chain, height),
          transactionInfo: null,
          actionData: group.flatMap((e) =>
            e.events.map((data) => ({
              accountUpdateId: String(e.accountUpdateId),
              transactionInfo: e.transactionInfo,
              data,
            })),
          ),
          actionState: {
            actionStateOne: group[group.length - 1]?.stateAfter ?? null,
            actionStateTwo: group[0]?.stateBefore ?? null,
            actionStateThree: null,
            actionStateFour: null,
            actionStateFive: null,
          },
        }))
    },
    networkState() {
      const tip = chain.tip().height
      return {
        maxBlockHeight: {
          canonicalMaxBlockHeight: Math.max(1, tip - CONSENSUS.k),
          pendingMaxBlockHeight: tip,
        },
      }
    },
  }
}

import { AccountUpdate, Field } from 'o1js'
import { ChainError } from './errors.ts'

/** Transaction facts the archive reports next to each event or action. */
export interface TransactionInfo {
  status: 'applied' | 'failed'
  hash: string
  memo: string
  authorizationKind: string
  sequenceNumber: number
  zkappAccountUpdateIds: number[]
}

/** The events of one account update, as the archive stores them. */
export interface EventEntry {
  height: number
  accountUpdateId: number
  transactionInfo: TransactionInfo
  /** Events in the account update's JSON order (newest first, as o1js writes them). */
  events: string[][]
}

/** The actions of one account update, with the account's action state before and after. */
export interface ActionEntry extends EventEntry {
  stateBefore: string
  stateAfter: string
}

/** One applied account update, as fed to the index. */
export interface IndexedAccountUpdate {
  publicKey: string
  tokenId: string
  accountUpdateId: number
  events: string[][]
  actions: string[][]
}

/** Optional block-height window, `from` inclusive and `to` exclusive, as the archive applies it. */
export interface HeightRange {
  from?: number | null
  to?: number | null
}

const EMPTY_ACTION_STATE = AccountUpdate.Actions.emptyActionState().toString()

function accountKey(publicKey: string, tokenId: string): string {
  return `${publicKey}:${tokenId}`
}

function inRange(height: number, { from, to }: HeightRange): boolean {
  if (from != null && height < from) return false
  if (to != null && height >= to) return false
  return true
}

/**
 * The local stand-in for an archive node: events and actions of applied commands, per
 * account and token, in chain order. Failed commands are not indexed, as the archive API
 * filters them out.
 */
export class ArchiveIndex {
  private readonly eventsByAccount = new Map<string, EventEntry[]>()
  private readonly actionsByAccount = new Map<string, ActionEntry[]>()
  private readonly actionState = new Map<string, string>()

  /** Adds the events and actions of one applied command included at `height`. */
  record(height: number, info: TransactionInfo, updates: IndexedAccountUpdate[]): void {
    for (const au of updates) {
      const key = accountKey(au.publicKey, au.tokenId)
      if (au.events.length > 0) {
        const list = this.eventsByAccount.get(key) ?? []
        list.push({
          height,
          accountUpdateId: au.accountUpdateId,
          transactionInfo: info,
          events: au.events,
        })
        this.eventsByAccount.set(key, list)
      }
      if (au.actions.length > 0) {
        const stateBefore = this.actionState.get(key) ?? EMPTY_ACTION_STATE
        const actionsHash = AccountUpdate.Actions.fromJSON(au.actions).hash
        const stateAfter = AccountUpdate.Actions.updateSequenceState(
          Field(stateBefore),
          actionsHash,
        ).toString()
        this.actionState.set(key, stateAfter)
        const list = this.actionsByAccount.get(key) ?? []
        list.push({
          height,
          accountUpdateId: au.accountUpdateId,
          transactionInfo: info,
          events: au.actions,
          stateBefore,
          stateAfter,
        })
        this.actionsByAccount.set(key, list)
      }
    }
  }

  /** Events of an account, oldest first, within the height range. */
  events(publicKey: string, tokenId: string, range: HeightRange): EventEntry[] {
    return (this.eventsByAccount.get(accountKey(publicKey, tokenId)) ?? []).filter((e) =>
      inRange(e.height, range),
    )
  }

  /**
   * Actions of an account, oldest first: those after `fromActionState` (exclusive) up to
   * `endActionState` (inclusive), within the height range. Unknown action states are errors,
   * as in the archive; the empty action state means "from the start" or "nothing".
   */
  actions(
    publicKey: string,
    tokenId: string,
    range: HeightRange & { fromActionState?: string | null; endActionState?: string | null },
  ): ActionEntry[] {
    const all = this.actionsByAccount.get(accountKey(publicKey, tokenId)) ?? []
    const { fromActionState, endActionState } = range
    if (endActionState === EMPTY_ACTION_STATE) return []
    let start = 0
    if (fromActionState != null && fromActionState !== EMPTY_ACTION_STATE) {
      const i = all.findIndex((a) => a.stateAfter === fromActionState)
      if (i === -1)
        throw new ChainError(
          'NOT_FOUND',
          `fromActionState ${fromActionState} is not an action state of ${publicKey}`,
        )
      start = i + 1
    }
    let end = all.length
    if (endActionState != null) {
      const i = all.findIndex((a) => a.stateAfter === endActionState)
      if (i === -1)
        throw new ChainError(
          'NOT_FOUND',
          `endActionState ${endActionState} is not an action state of ${publicKey}`,
        )
      end = i + 1
    }
    return all.slice(start, end).filter((a) => inRange(a.height, range))
  }
}

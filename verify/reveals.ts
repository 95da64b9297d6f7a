import {
  checkSourceReveal,
  holdsServiceState,
  parseSourceReveal,
  sourceCommitmentToField,
} from '../protocol/index.ts'
import {
  type ChainReader,
  decodeServiceState,
  ownListings,
  registryEntries,
} from './chain-reader.ts'
import type { BundleReader } from './verify-result.ts'

/**
 * The reveal documents a service's own runner key listed for it in the registry (later Published
 * events of the same service), newest first; a stranger's listings are dropped, as in the market.
 * One reading for the page, the stack and `zkrunner verify`, so a revealed private service's source
 * link passes in all three alike.
 */
export async function revealsInRegistry(
  chain: Pick<ChainReader, 'events' | 'zkappState'>,
  registry: string,
  service: string,
  poseidon: (fields: bigint[]) => Promise<bigint>,
): Promise<readonly string[]> {
  const events = await chain.events(registry)
  const [own] = await ownListings(
    registryEntries(events).filter((e) => e.service === service),
    async (s) => {
      const fields = await chain.zkappState(s).catch(() => null)
      return holdsServiceState(fields) ? decodeServiceState(fields).runnerKeyHash : null
    },
    poseidon,
  )
  return own?.laterCids ?? []
}

/** What the newest reveal a service's operator listed says of its private source. */
export type RevealState =
  /** No reveal listed: the source stays a commitment. */
  | { state: 'hidden' }
  /** The listing or the document could not be read now: neither revealed nor broken. */
  | { state: 'unreadable'; cid?: string; why: string }
  /** The newest document is no reveal, or does not open the frozen commitment: named, broken. */
  | { state: 'broken'; cid: string; why: string }
  /** The newest document opens the frozen commitment: where the code lives, checked. */
  | { state: 'revealed'; cid: string; providerUrl: string; project: string; commit: string }

/**
 * Reads and checks the newest reveal of a private service against the commitment its contract
 * froze (`sourceCommitment`, poseidon:…). One rule for the verifier's source link and the market's
 * "revealed" marker: a later document that does not open the commitment is broken, whatever an
 * earlier one said (an operator cannot "un-reveal" by listing junk, only be seen to have tried).
 */
export async function serviceReveal(
  service: string,
  sourceCommitment: string,
  cids: () => Promise<readonly string[]>,
  bundle: Pick<BundleReader, 'readCid'>,
  signal?: AbortSignal,
): Promise<RevealState> {
  let listed: readonly string[]
  try {
    listed = await cids()
  } catch (e) {
    return { state: 'unreadable', why: `the reveal listing could not be read: ${why(e)}` }
  }
  const cid = listed[0]
  if (cid === undefined) return { state: 'hidden' }
  let bytes: Uint8Array
  try {
    bytes = await bundle.readCid(cid, signal ? { signal } : undefined)
  } catch (e) {
    return { state: 'unreadable', cid, why: `reveal ${cid} could not be retrieved: ${why(e)}` }
  }
  const parsed = parseSourceReveal(bytes)
  if (!parsed.ok)
    return {
      state: 'broken',
      cid,
      why: `reveal ${cid} is not a reveal document: ${parsed.error.message}`,
    }
  const checked = checkSourceReveal(parsed.value, {
    address: service,
    commitmentField: sourceCommitmentToField(sourceCommitment),
  })
  if (!checked.ok) return { state: 'broken', cid, why: `reveal ${cid}: ${checked.error.message}` }
  const r = checked.value
  return {
    state: 'revealed',
    cid,
    providerUrl: r.providerUrl,
    project: r.project,
    commit: r.commit,
  }
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e))

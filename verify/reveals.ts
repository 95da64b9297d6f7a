import { holdsServiceState } from '../protocol/index.ts'
import {
  type ChainReader,
  decodeServiceState,
  ownListings,
  registryEntries,
} from './chain-reader.ts'

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

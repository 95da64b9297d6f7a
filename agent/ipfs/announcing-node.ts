import type { FsBlockstore } from 'blockstore-fs'
import type { FsDatastore } from 'datastore-fs'
import { createHelia, type Helia } from 'helia'

/**
 * The agent's node with helia's public defaults (libp2p, bitswap, HTTP routing), so pinned
 * bundles are announced to the IPFS network. Its own module, built apart from the rest of the
 * agent and loading helia from node_modules (scripts/build-agent.mjs): the offline agent never
 * loads libp2p, a third of its memory.
 */
export function createAnnouncingNode(blockstore: FsBlockstore, datastore: FsDatastore): Helia {
  return createHelia({ blockstore, datastore })
}

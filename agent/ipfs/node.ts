import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { createHeliaLight, type Helia } from 'helia'

/** How to open the agent's IPFS node. */
export interface IpfsNodeOptions {
  /** The agent's data directory; blocks go to `<dataDir>/ipfs/blocks`. */
  dataDir: string
  /** Opt-in: start libp2p with its public defaults so pinned bundles are announced to the network. */
  announce?: boolean
}

/**
 * Opens the agent's Helia node on a file-system blockstore. By default it has no block brokers and
 * no routers: it never touches the network (createHelia's defaults would dial public routers and
 * hang offline), and the gateway serves what it pins.
 */
export async function openIpfsNode(options: IpfsNodeOptions): Promise<Helia> {
  const blockstore = new FsBlockstore(join(options.dataDir, 'ipfs', 'blocks'))
  const datastore = new FsDatastore(join(options.dataDir, 'ipfs', 'datastore'))
  const helia = options.announce
    ? (await import('./announcing-node.ts')).createAnnouncingNode(blockstore, datastore)
    : createHeliaLight({ blockstore, datastore, blockBrokers: [], routers: [] })
  await helia.start()
  return helia
}

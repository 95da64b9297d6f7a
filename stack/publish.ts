import { unixfs } from '@helia/unixfs'
import { openIpfsNode } from '../agent/ipfs/node.ts'
import { canonicalBytes, type ServiceDescriptor } from '../protocol/index.ts'

/**
 * Adds a service descriptor (its canonical JSON, one raw block) to the runner's IPFS store and
 * pins it, so the runner's gateway serves it and its CID can be frozen in the service contract.
 * Call while no other process has the store open.
 */
export async function publishDescriptor(
  agentDataDir: string,
  descriptor: ServiceDescriptor,
): Promise<string> {
  const helia = await openIpfsNode({ dataDir: agentDataDir })
  try {
    const cid = await unixfs(helia).addBytes(canonicalBytes(descriptor), { rawLeaves: true })
    if (!(await helia.pins.isPinned(cid))) {
      for await (const _ of helia.pins.add(cid)) {
        // Pinning walks the DAG; one raw block here.
      }
    }
    return cid.toString()
  } finally {
    await helia.stop()
  }
}

import { openIpfsNode } from '../agent/ipfs/node.ts'
import { pinServiceDescriptor } from '../agent/ipfs/pin-descriptor.ts'
import type { ServiceDescriptor } from '../protocol/index.ts'

/**
 * Pins a service descriptor in the runner's IPFS store (the agent's own code path), so the
 * runner's gateway serves it and its CID can be frozen in the service contract. Call while no
 * other process has the store open.
 */
export async function publishDescriptor(
  agentDataDir: string,
  descriptor: ServiceDescriptor,
): Promise<string> {
  const helia = await openIpfsNode({ dataDir: agentDataDir })
  try {
    return await pinServiceDescriptor(helia, descriptor)
  } finally {
    await helia.stop()
  }
}

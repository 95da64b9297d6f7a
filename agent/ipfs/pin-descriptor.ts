import type { Helia } from 'helia'
import {
  type ServiceDescriptor,
  serviceDescriptorBytes,
  serviceDescriptorCid,
} from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { pinRawBlock } from './pin-raw-block.ts'

/**
 * Pins a service descriptor in the runner's store, so the runner's gateway serves it, under the
 * CID protocol computes (canonical JSON of the parsed descriptor, one raw block): the CID frozen
 * in the service contract is then the pinned one by construction.
 */
export async function pinServiceDescriptor(
  helia: Pick<Helia, 'blockstore' | 'pins'>,
  descriptor: ServiceDescriptor,
  options?: { signal?: AbortSignal },
): Promise<string> {
  const cid = serviceDescriptorCid(descriptor)
  try {
    await pinRawBlock(helia, cid, serviceDescriptorBytes(descriptor), options)
  } catch (e) {
    throw new AgentError(
      AgentErrorCode.IPFS_FAILED,
      `pinning the service descriptor ${cid}: ${(e as Error).message}`,
      { cause: e },
    )
  }
  return cid.toString()
}

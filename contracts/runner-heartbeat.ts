import { fetchLastBlock, type PrivateKey, type PublicKey } from 'o1js'
import { heartbeatMessage, signFields } from '../protocol/index.ts'
import { type FeePayer, heartbeat, readServiceState } from './client.ts'
import { ServiceErrors } from './errors.ts'
import { SLOT_WINDOW } from './service-contract.ts'

/** Heartbeats re-signed before giving up (see {@link sendHeartbeat}). */
const HEARTBEAT_ATTEMPTS = 6

/**
 * The runner proves it is alive: signs a slot and records it on chain. A heartbeat already at the
 * current slot is not sent again, so callers may repeat it freely. A heartbeat lands only within
 * SLOT_WINDOW slots of the slot it names, and the local chain's slots are seconds long: on a
 * loaded machine proving alone can take longer. So when one lands too late, the next names a slot
 * as far ahead as the last one took to land (less half the window), and lands inside it.
 */
export async function sendHeartbeat(
  payer: FeePayer,
  service: PublicKey,
  runnerKey: PrivateKey,
  log: (line: string) => void = () => {},
  poll?: { interval: number; maxAttempts: number },
): Promise<bigint> {
  const currentSlot = async () => (await fetchLastBlock()).globalSlotSinceGenesis.toBigint()
  let lead = 0n
  for (let attempt = 1; ; attempt++) {
    const now = await currentSlot()
    const state = await readServiceState(service)
    if (state.heartbeat.lastHeartbeatSlot >= now) return state.heartbeat.lastHeartbeatSlot
    const slot = now + lead
    const signature = signFields(
      heartbeatMessage({ service: service.toBase58(), slot }),
      runnerKey.toBase58(),
    )
    try {
      const pending = await heartbeat(payer, service, runnerKey.toPublicKey(), slot, signature)
      await pending.wait(poll)
      return slot
    } catch (e) {
      const message = (e as Error).message ?? ''
      const stale =
        message.includes('Protocol_state_precondition_unsatisfied') ||
        message.includes(ServiceErrors.staleHeartbeat)
      if (!stale || attempt >= HEARTBEAT_ATTEMPTS) throw e
      const took = (await currentSlot()) - now
      const ahead = took - BigInt(SLOT_WINDOW) / 2n
      lead = ahead > 0n ? ahead : 0n
      log(`heartbeat for slot ${slot} took ${took} slots to land; naming a slot ${lead} ahead`)
    }
  }
}

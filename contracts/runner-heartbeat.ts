import { fetchLastBlock, type PrivateKey, type PublicKey } from 'o1js'
import { heartbeatMessage, signFields } from '../protocol/index.ts'
import { type FeePayer, heartbeat, readServiceState } from './client.ts'
import { ServiceErrors } from './errors.ts'

/** Heartbeats re-signed for a fresh slot before giving up (see {@link sendHeartbeat}). */
const HEARTBEAT_ATTEMPTS = 4

/**
 * The runner proves it is alive: signs the current slot and records it on chain. A heartbeat
 * already at the current slot is not sent again, so callers may repeat it freely. A heartbeat is
 * valid for a few slots only, and the local chain's slots are seconds long: when proving took
 * longer than that (a loaded machine), it is signed again for the slot then current.
 */
export async function sendHeartbeat(
  payer: FeePayer,
  service: PublicKey,
  runnerKey: PrivateKey,
  log: (line: string) => void = () => {},
  poll?: { interval: number; maxAttempts: number },
): Promise<bigint> {
  for (let attempt = 1; ; attempt++) {
    const block = await fetchLastBlock()
    const slot = block.globalSlotSinceGenesis.toBigint()
    const state = await readServiceState(service)
    if (state.heartbeat.lastHeartbeatSlot >= slot) return state.heartbeat.lastHeartbeatSlot
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
      log(`heartbeat for slot ${slot} landed too late; signing it again for the current slot`)
    }
  }
}

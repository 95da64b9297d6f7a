import { fetchLastBlock, Mina, PrivateKey, PublicKey } from 'o1js'
import {
  compileAll,
  listedServices,
  readServiceState,
  sendHeartbeat,
  setCreditTokenAddress,
} from '../../contracts/index.ts'
import type { MinaKeyPair } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import type { HeartbeatWorld } from './duty.ts'

/** Where the duty reads and sends: the chain (and its archive, for the registry) and the Worker. */
export interface ChainHeartbeatOptions {
  runner: MinaKeyPair
  feePayerKey?: string
  fee?: number
  creditToken: string
  workerUrl: string
  minaGraphqlUrl: string
  archiveUrl?: string
  networkId?: string
  cacheDir: string
  /** The registry whose listings by the runner key are kept alive (read through the archive). */
  registry?: string
  /** Versions kept alive besides the registry's listings. */
  services?: readonly string[]
  fetch?: typeof fetch
}

const invalid = (message: string) => new AgentError(AgentErrorCode.INVALID_CONFIG, message)

/** The real world of the heartbeat duty: o1js on a Mina network and the Worker's HTTP API. */
export function chainHeartbeatWorld(o: ChainHeartbeatOptions): HeartbeatWorld {
  const network = Mina.Network({
    networkId: (o.networkId ?? 'devnet') as 'devnet',
    mina: o.minaGraphqlUrl,
    ...(o.archiveUrl ? { archive: o.archiveUrl } : {}),
  })
  Mina.setActiveInstance(network)
  const token = PublicKey.fromBase58(o.creditToken)
  setCreditTokenAddress(token)
  const runnerKey = PrivateKey.fromBase58(o.runner.privateKey)
  const payer = { key: PrivateKey.fromBase58(o.feePayerKey ?? o.runner.privateKey), fee: o.fee }
  const doFetch = o.fetch ?? fetch
  if (!o.registry && (o.services ?? []).length === 0) {
    throw invalid('heartbeat needs --registry (with an archive) or at least one --service')
  }
  let compiled = false
  return {
    async services() {
      const listed =
        o.registry && o.archiveUrl
          ? await listedServices(PublicKey.fromBase58(o.registry), runnerKey.toPublicKey())
          : []
      return [...new Set([...(o.services ?? []), ...listed])]
    },
    async workerView(service) {
      const res = await doFetch(new URL(`/v1/services/${service}`, o.workerUrl))
      if (!res.ok) throw new Error(`the Worker answered ${res.status} for ${service}`)
      const body = (await res.json()) as {
        retired?: boolean
        chain?: { maxHeartbeatAgeSlots?: string } | null
      }
      const age = body.chain?.maxHeartbeatAgeSlots
      if (typeof age !== 'string' || !/^\d{1,12}$/.test(age)) {
        throw new Error(`the Worker sees no service contract at ${service}`)
      }
      return { maxHeartbeatAgeSlots: BigInt(age), retired: body.retired === true }
    },
    async chainView(service) {
      const [state, block] = await Promise.all([
        readServiceState(PublicKey.fromBase58(service)),
        fetchLastBlock(),
      ])
      return {
        lastHeartbeatSlot: state.heartbeat.lastHeartbeatSlot,
        currentSlot: block.globalSlotSinceGenesis.toBigint(),
      }
    },
    async send(service) {
      if (network.proofsEnabled && !compiled) {
        await compileAll(token, o.cacheDir)
        compiled = true
      }
      await sendHeartbeat(payer, PublicKey.fromBase58(service), runnerKey)
    },
  }
}

/** The network's slot length in ms (after a block was fetched; 3 minutes when it says nothing). */
export function networkSlotMs(): number {
  try {
    return Number(Mina.getNetworkConstants().slotTime.toBigInt())
  } catch {
    return 180_000
  }
}

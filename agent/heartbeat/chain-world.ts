import { fetchLastBlock, Mina, PrivateKey, PublicKey } from 'o1js'
import {
  compileAll,
  type FeePayer,
  listedServices,
  minaNetwork,
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
  /** False only against a node that does not verify proofs (see minaNetwork). */
  prove?: boolean
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
  const network = minaNetwork({
    networkId: o.networkId ?? 'devnet',
    mina: o.minaGraphqlUrl,
    archive: o.archiveUrl,
    prove: o.prove,
  })
  Mina.setActiveInstance(network)
  const token = PublicKey.fromBase58(o.creditToken)
  setCreditTokenAddress(token)
  if (!o.registry && (o.services ?? []).length === 0) {
    throw invalid('heartbeat needs --registry (with an archive) or at least one --service')
  }
  let compiled = false
  return heartbeatWorldOnActiveChain({
    runnerKey: PrivateKey.fromBase58(o.runner.privateKey),
    payer: { key: PrivateKey.fromBase58(o.feePayerKey ?? o.runner.privateKey), fee: o.fee },
    workerUrl: o.workerUrl,
    ...(o.registry && o.archiveUrl ? { registry: o.registry } : {}),
    services: o.services ?? [],
    fetch: o.fetch,
    async beforeSend() {
      if (network.proofsEnabled && !compiled) {
        await compileAll(token, o.cacheDir)
        compiled = true
      }
    },
  })
}

/**
 * The duty's world on the chain o1js has selected (the agent selects it above; the local stack
 * shares its own), with the Worker's HTTP API for each version's allowed age.
 */
export function heartbeatWorldOnActiveChain(o: {
  runnerKey: PrivateKey
  payer: FeePayer
  workerUrl: string
  /** Listings by the runner key here are kept alive (needs an archive). */
  registry?: string
  services: readonly string[]
  fetch?: typeof fetch
  beforeSend?: () => Promise<void>
}): HeartbeatWorld {
  const doFetch = o.fetch ?? fetch
  return {
    async services() {
      const listed = o.registry
        ? await listedServices(PublicKey.fromBase58(o.registry), o.runnerKey.toPublicKey())
        : []
      return [...new Set([...o.services, ...listed])]
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
      await o.beforeSend?.()
      await sendHeartbeat(o.payer, PublicKey.fromBase58(service), o.runnerKey)
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

import { publicKeyOf, toHex } from '../../../protocol/index.ts'
import type { SiteConfig } from '../config.ts'
import { SiteError, SiteErrorCode } from '../errors.ts'
import type { ProverRequest, ProverResponse } from './messages.ts'

/** What the page asks of o1js, answered off the main thread. */
export interface Prover {
  /** Deposits `amount` credits of the dev key into `service`; resolves with the transaction hash. */
  deposit(
    service: string,
    privateKey: string,
    amount: bigint,
    onProgress?: (m: string) => void,
  ): Promise<string>
  /**
   * Proves a deposit of `amount` credits of `payer` into `service` without signing it; resolves
   * with the zkApp command as JSON, for a wallet (Auro) to sign and send.
   */
  proveDeposit(
    service: string,
    payer: string,
    amount: bigint,
    onProgress?: (m: string) => void,
  ): Promise<string>
  /** The results-tree root of manifest digests, as the contract computes it. */
  resultsRoot(digests: readonly Uint8Array[]): Promise<bigint>
}

type Body<K> = K extends ProverRequest ? Omit<K, 'id'> : never

/** Starts the prover web worker lazily (o1js loads only when first needed). */
export function createProver(config: SiteConfig): Prover {
  let worker: Worker | null = null
  let next = 1
  const waiting = new Map<
    number,
    { resolve: (v: string) => void; reject: (e: Error) => void; progress?: (m: string) => void }
  >()
  const start = () => {
    if (worker) return worker
    if (!crossOriginIsolated) {
      throw new SiteError(
        SiteErrorCode.PROVER_FAILED,
        'o1js needs a cross-origin isolated page: serve it with COOP/COEP headers (see README)',
      )
    }
    worker = new Worker(new URL('./prover-worker.ts', import.meta.url), { type: 'module' })
    worker.addEventListener('message', (e: MessageEvent<ProverResponse>) => {
      const m = e.data
      const w = waiting.get(m.id)
      if (!w) return
      if (m.kind === 'progress') w.progress?.(m.message)
      else {
        waiting.delete(m.id)
        if (m.kind === 'done') w.resolve(m.value)
        else w.reject(new SiteError(SiteErrorCode.PROVER_FAILED, m.message))
      }
    })
    return worker
  }
  const ask = (body: Body<ProverRequest>, progress?: (m: string) => void) =>
    new Promise<string>((resolve, reject) => {
      const id = next++
      waiting.set(id, { resolve, reject, ...(progress ? { progress } : {}) })
      start().postMessage({ ...body, id })
    })
  const network = {
    minaGraphqlUrl: config.minaGraphqlUrl,
    archiveUrl: config.archiveUrl,
    networkId: config.networkId,
    tokenAddress: config.tokenAddress,
  }
  return {
    deposit: (service, privateKey, amount, onProgress) => {
      const payer = publicKeyOf(privateKey)
      if (!payer.ok) throw new SiteError(SiteErrorCode.CONFIG_INVALID, 'devKey is not a Mina key')
      return ask(
        {
          kind: 'deposit',
          network,
          service,
          payer: payer.value,
          privateKey,
          amount: amount.toString(),
        },
        onProgress,
      )
    },
    proveDeposit: (service, payer, amount, onProgress) =>
      ask({ kind: 'deposit', network, service, payer, amount: amount.toString() }, onProgress),
    resultsRoot: async (digests) =>
      BigInt(await ask({ kind: 'results-root', digests: digests.map(toHex) })),
  }
}

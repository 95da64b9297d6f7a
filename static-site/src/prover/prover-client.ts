import { toHex } from '../../../protocol/index.ts'
import type { SiteConfig } from '../config.ts'
import { SiteError, SiteErrorCode } from '../errors.ts'
import type { LedgerOp, ProverRequest, ProverResponse } from './messages.ts'

/** What the page asks of o1js, answered off the main thread. */
export interface Prover {
  /**
   * Proves a transaction of the service's ChannelLedger for `payer` (the user, who pays its fee):
   * signed with `privateKey` (the dev key) for the page to send, or unsigned (no key) for a wallet
   * (Auro) to sign and send. Resolves with the zkApp command as JSON.
   */
  ledger(
    op: LedgerOp,
    service: string,
    payer: string,
    privateKey: string | null,
    onProgress?: (m: string) => void,
  ): Promise<string>
  /** The results-tree root of manifest digests, as the contract computes it. */
  resultsRoot(
    owner: { service: string; user: string },
    digests: readonly Uint8Array[],
  ): Promise<bigint>
  /** Poseidon over fields, as the contract hashes keys. */
  poseidon(fields: readonly bigint[]): Promise<bigint>
}

type Body<K> = K extends ProverRequest ? Omit<K, 'id'> : never

/**
 * Starts prover web workers lazily (o1js loads only when first needed). Results roots share one
 * long-lived worker. Each ledger transaction gets a worker of its own, ended when it answers: in Chromium a
 * second deposit proved in the same o1js worker did not finish (minutes at full CPU, against
 * about 40 s for the first), so every ledger transaction compiles afresh and proves once.
 */
export function createProver(config: SiteConfig): Prover {
  let shared: Worker | null = null
  let next = 1
  const waiting = new Map<
    number,
    { resolve: (v: string) => void; reject: (e: Error) => void; progress?: (m: string) => void }
  >()
  const spawn = () => {
    if (!crossOriginIsolated) {
      throw new SiteError(
        SiteErrorCode.PROVER_FAILED,
        'o1js needs a cross-origin isolated page: serve it with COOP/COEP headers (see README)',
      )
    }
    const worker = new Worker(new URL('./prover-worker.ts', import.meta.url), { type: 'module' })
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
      if (body.kind === 'ledger') {
        const worker = spawn()
        const end =
          <T>(f: (v: T) => void) =>
          (v: T) => {
            worker.terminate()
            f(v)
          }
        waiting.set(id, {
          resolve: end(resolve),
          reject: end(reject),
          ...(progress ? { progress } : {}),
        })
        worker.postMessage({ ...body, id })
        return
      }
      shared ??= spawn()
      waiting.set(id, { resolve, reject, ...(progress ? { progress } : {}) })
      shared.postMessage({ ...body, id })
    })
  const network = {
    minaGraphqlUrl: config.minaGraphqlUrl,
    archiveUrl: config.archiveUrl,
    networkId: config.networkId,
    tokenAddress: config.tokenAddress,
    dummyProofs: config.dummyProofs,
  }
  return {
    ledger: (op, service, payer, privateKey, onProgress) =>
      ask(
        {
          kind: 'ledger',
          network,
          service,
          payer,
          ...(privateKey === null ? {} : { privateKey }),
          ...op,
        },
        onProgress,
      ),
    resultsRoot: async (owner, digests) =>
      BigInt(await ask({ kind: 'results-root', ...owner, digests: digests.map(toHex) })),
    poseidon: async (fields) => BigInt(await ask({ kind: 'poseidon', fields: fields.map(String) })),
  }
}

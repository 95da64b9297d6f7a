/// <reference lib="webworker" />
import { Mina, PrivateKey, PublicKey } from 'o1js'
import { deposit } from '../../../contracts/client.ts'
import { CreditAdmin } from '../../../contracts/credit-admin.ts'
import { CreditToken, setCreditTokenAddress } from '../../../contracts/credit-token.ts'
import { ServiceContract } from '../../../contracts/service-contract.ts'
import { ServiceVault } from '../../../contracts/service-vault.ts'
import { fromHex } from '../../../protocol/index.ts'
import { computeResultsRoot } from '../verify/results-root.ts'
import type { ProverRequest, ProverResponse } from './messages.ts'

// Runs o1js off the main thread: compiling and proving take minutes and would freeze the page.
// It needs a cross-origin isolated page (SharedArrayBuffer), hence the COOP/COEP headers.

const post = (m: ProverResponse) => (self as unknown as Worker).postMessage(m)
let compiled: Promise<void> | null = null

function compileOnce(id: number, tokenAddress: string): Promise<void> {
  compiled ??= (async () => {
    setCreditTokenAddress(PublicKey.fromBase58(tokenAddress))
    for (const [name, c] of [
      ['CreditAdmin', CreditAdmin],
      ['CreditToken', CreditToken],
      ['ServiceVault', ServiceVault],
      ['ServiceContract', ServiceContract],
    ] as const) {
      post({ kind: 'progress', id, message: `compiling ${name}…` })
      await c.compile()
    }
  })()
  return compiled
}

async function handle(req: ProverRequest): Promise<string> {
  switch (req.kind) {
    case 'results-root':
      return computeResultsRoot(req.digests.map(fromHex)).toString()
    case 'deposit': {
      Mina.setActiveInstance(
        Mina.Network({
          networkId: req.network.networkId as 'testnet',
          mina: req.network.minaGraphqlUrl,
          archive: req.network.archiveUrl,
        }),
      )
      await compileOnce(req.id, req.network.tokenAddress)
      const key = PrivateKey.fromBase58(req.privateKey)
      post({ kind: 'progress', id: req.id, message: 'proving the deposit…' })
      const pending = await deposit(
        { key },
        PublicKey.fromBase58(req.service),
        key,
        key.toPublicKey(),
        BigInt(req.amount),
      )
      return pending.hash
    }
  }
}

self.addEventListener('message', (event: MessageEvent<ProverRequest>) => {
  const req = event.data
  handle(req).then(
    (value) => post({ kind: 'done', id: req.id, value }),
    (e: unknown) =>
      post({ kind: 'error', id: req.id, message: e instanceof Error ? e.message : String(e) }),
  )
})

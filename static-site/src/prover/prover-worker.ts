/// <reference lib="webworker" />
import { Field, Mina, Poseidon, PrivateKey, PublicKey } from 'o1js'
import { proveDeposit } from '../../../contracts/client.ts'
import { CreditToken, setCreditTokenAddress } from '../../../contracts/credit-token.ts'
import { ServiceContract } from '../../../contracts/service-contract.ts'
import { fromHex } from '../../../protocol/index.ts'
import { computeResultsRoot } from '../../../verify/results-root.ts'
import type { ProverRequest, ProverResponse } from './messages.ts'

// Runs o1js off the main thread: compiling and proving take minutes and would freeze the page.
// It needs a cross-origin isolated page (SharedArrayBuffer), hence the COOP/COEP headers.

const post = (m: ProverResponse) => (self as unknown as Worker).postMessage(m)
let compiled: Promise<void> | null = null

function compileOnce(id: number, tokenAddress: string): Promise<void> {
  compiled ??= (async () => {
    setCreditTokenAddress(PublicKey.fromBase58(tokenAddress))
    // A deposit proves ServiceContract.deposit and the token's transfer it calls; nothing else
    // (the vault's balance rises without its authorization). Compiling in WebAssembly is the
    // slow part, so only these two.
    for (const [name, c] of [
      ['CreditToken', CreditToken],
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
      return computeResultsRoot(
        { service: req.service, user: req.user },
        req.digests.map(fromHex),
      ).toString()
    case 'poseidon':
      return Poseidon.hash(req.fields.map((f) => Field(BigInt(f)))).toString()
    case 'deposit': {
      Mina.setActiveInstance(
        Mina.Network({
          networkId: req.network.networkId as 'testnet',
          mina: req.network.minaGraphqlUrl,
          archive: req.network.archiveUrl,
        }),
      )
      await compileOnce(req.id, req.network.tokenAddress)
      post({ kind: 'progress', id: req.id, message: 'proving the deposit…' })
      const service = PublicKey.fromBase58(req.service)
      const payer = PublicKey.fromBase58(req.payer)
      if (req.privateKey === undefined)
        return proveDeposit(payer, service, payer, BigInt(req.amount))
      const key = PrivateKey.fromBase58(req.privateKey)
      if (!key.toPublicKey().equals(payer).toBoolean())
        throw new Error('the dev key is not the payer')
      // Signed here, sent by the page: o1js's own send() never settled in a browser worker
      // (the command reached the node, the promise did not resolve).
      return proveDeposit(payer, service, payer, BigInt(req.amount), { signers: [key] })
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

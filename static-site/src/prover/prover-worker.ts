/// <reference lib="webworker" />
import { Field, Mina, Poseidon, PublicKey } from 'o1js'
import { ChannelLedger, ledgerReducer } from '../../../contracts/channel-ledger.ts'
import { CreditToken, setCreditTokenAddress } from '../../../contracts/credit-token.ts'
import { LedgerVault } from '../../../contracts/ledger-vault.ts'
import { minaNetwork } from '../../../contracts/network.ts'
import { fromHex } from '../../../protocol/index.ts'
import { computeResultsRoot } from '../../../verify/results-root.ts'
import { devSigner, proveLedgerOp } from './ledger-calls.ts'
import type { LedgerOp, ProverNetwork, ProverRequest, ProverResponse } from './messages.ts'

// Runs o1js off the main thread: compiling and proving take minutes and would freeze the page.
// It needs a cross-origin isolated page (SharedArrayBuffer), hence the COOP/COEP headers.

const post = (m: ProverResponse) => (self as unknown as Worker).postMessage(m)

type Compilable = { compile(): Promise<unknown> }
const ActionStack = ledgerReducer.program as unknown as Compilable

/**
 * What each ledger transaction proves: the ledger's method (the ledger's circuit verifies the
 * action-stack program's proofs, so that compiles first), plus the token's transfer for the
 * credits a deposit or refund moves and the vault's refund. Compiling in WebAssembly is the slow
 * part, so only these.
 */
const NEEDS: Record<LedgerOp['op'], readonly (readonly [string, Compilable])[]> = {
  deposit: [
    ['CreditToken', CreditToken],
    ['LedgerActionStack', ActionStack],
    ['ChannelLedger', ChannelLedger],
  ],
  'request-withdraw': [
    ['LedgerActionStack', ActionStack],
    ['ChannelLedger', ChannelLedger],
  ],
  withdraw: [
    ['LedgerActionStack', ActionStack],
    ['ChannelLedger', ChannelLedger],
  ],
  'process-batch': [
    ['LedgerActionStack', ActionStack],
    ['ChannelLedger', ChannelLedger],
  ],
  refund: [
    ['CreditToken', CreditToken],
    ['LedgerActionStack', ActionStack],
    ['ChannelLedger', ChannelLedger],
    ['LedgerVault', LedgerVault],
  ],
}
const compiled = new Set<Compilable>()

async function compile(id: number, op: LedgerOp['op']): Promise<void> {
  for (const [name, c] of NEEDS[op]) {
    if (compiled.has(c)) continue
    post({ kind: 'progress', id, message: `compiling ${name}…` })
    await c.compile()
    compiled.add(c)
  }
}

/** Selects the configured node; against one that verifies no proofs, transactions carry dummies. */
function useNetwork(n: ProverNetwork): void {
  setCreditTokenAddress(PublicKey.fromBase58(n.tokenAddress))
  Mina.setActiveInstance(
    minaNetwork({
      mina: n.minaGraphqlUrl,
      archive: n.archiveUrl,
      networkId: n.networkId,
      prove: !n.dummyProofs,
    }),
  )
}

const LABEL: Record<LedgerOp['op'], string> = {
  deposit: 'the deposit',
  'request-withdraw': 'the withdrawal request',
  withdraw: 'the withdrawal',
  'process-batch': 'the batch',
  refund: 'the refund',
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
    case 'ledger': {
      useNetwork(req.network)
      if (!req.network.dummyProofs) await compile(req.id, req.op)
      post({ kind: 'progress', id: req.id, message: `proving ${LABEL[req.op]}…` })
      const service = PublicKey.fromBase58(req.service)
      const payer = PublicKey.fromBase58(req.payer)
      // Signed here, sent by the page: o1js's own send() never settled in a browser worker
      // (the command reached the node, the promise did not resolve). Unsigned for Auro.
      const signers = req.privateKey === undefined ? [] : [devSigner(req.privateKey, payer)]
      return proveLedgerOp(req, service, payer, signers)
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

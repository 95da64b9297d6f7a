import { Mina, UInt64 } from 'o1js'
import { ChannelLedger, LEDGER_BATCH_SIZE, ledgerReducer } from '../contracts/channel-ledger.ts'
import { LedgerHandle, send } from '../contracts/channel-ledger-client.ts'
import { DEFAULT_CACHE_DIR } from '../contracts/compile.ts'
import { seededKey, testDigests } from '../contracts/test-chain.ts'

// Figures of the collision-free settlement prototype (contracts/channel-ledger.ts): rows of each
// method against the same run's token transfer, user channels in one batch transaction, and the
// native proving time of one full batch, per transaction and per user channel. Dispatches are
// sent with proofs off (their proofs are independent of the batch); the batch is proved.

/** Runs the ledger figures; `transferRows` is the baseline measured by the caller. */
export async function ledgerFigures(transferRows: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const [m, a] of Object.entries(await ChannelLedger.analyzeMethods())) {
    out[`rows ChannelLedger.${m}`] = a.rows
    out[`ratio ChannelLedger.${m} / transfer`] = Number((a.rows / transferRows).toFixed(2))
  }
  const { Cache } = await import('o1js')
  const cache = Cache.FileSystem(DEFAULT_CACHE_DIR)
  const t0 = performance.now()
  await ledgerReducer.compile()
  await ChannelLedger.compile({ cache })
  out['ChannelLedger compile incl. action-stack program (s)'] = secs(t0)

  const local = await Mina.LocalBlockchain({ proofsEnabled: false })
  Mina.setActiveInstance(local)
  const payer = local.testAccounts[0]!.key
  const ledger = await LedgerHandle.deploy(payer, seededKey(9001), seededKey(9002), 10n, 40)
  const users = Array.from({ length: LEDGER_BATCH_SIZE }, (_, i) => {
    const k = seededKey(9100 + i)
    local.addAccount(k.toPublicKey(), '10000000000')
    return k
  })
  for (const u of users) {
    await send(payer, [u], () =>
      ledger.contract.deposit(u.toPublicKey(), u.toPublicKey(), UInt64.from(100)),
    )
  }
  await ledger.processAll(payer)
  for (const u of users) {
    await ledger.claim(payer, u.toPublicKey(), testDigests(2), ledger.voucher(u, 20n, 1n))
  }
  local.incrementGlobalSlot(1)
  const [batch] = await ledger.prepare()
  local.setProofsEnabled(true)
  const t1 = performance.now()
  await ledger.sendBatch(payer, batch!)
  const perTx = secs(t1)
  out['user channels in one settlement (batch) transaction'] = LEDGER_BATCH_SIZE
  out['batch build+prove+send, native (s)'] = perTx
  out['proving per user channel (s)'] = Number((perTx / LEDGER_BATCH_SIZE).toFixed(2))
  return out
}

function secs(since: number): number {
  return Number(((performance.now() - since) / 1000).toFixed(1))
}

if (import.meta.url === `file://${process.argv[1]}` && !process.env.VITEST) {
  const { setBackend } = await import('o1js')
  setBackend('native')
  const { CreditToken, setCreditTokenAddress } = await import('../contracts/credit-token.ts')
  const { TEST_TOKEN_KEY } = await import('../contracts/test-chain.ts')
  setCreditTokenAddress(TEST_TOKEN_KEY.toPublicKey())
  const transfer = (await CreditToken.analyzeMethods()).transfer!.rows
  const rows = await ledgerFigures(transfer)
  console.table(Object.entries(rows).map(([figure, value]) => ({ figure, value })))
  process.exit(0)
}

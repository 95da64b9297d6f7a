import { AccountUpdate, Cache, Mina, UInt64 } from 'o1js'
import { ChannelLedger, compileLedger, LEDGER_BATCH_SIZE } from '../contracts/channel-ledger.ts'
import { LedgerHandle, send } from '../contracts/channel-ledger-client.ts'
import { DEFAULT_CACHE_DIR } from '../contracts/compile.ts'
import { CreditToken, creditTokenAddress } from '../contracts/credit-token.ts'
import { LedgerVault } from '../contracts/ledger-vault.ts'
import { seededKey, startTestChain, testDigests } from '../contracts/test-chain.ts'

// Figures of the collision-free settlement ledger (contracts/channel-ledger.ts), each against a
// baseline of the same run: rows of every method against a token transfer's rows, and the native
// proving time of one full batch against proving one token transfer. Setup transactions are sent
// with proofs off (their proofs are independent of the batch); the first batch and the transfer
// are proved. Landing is about preconditions, not proofs: the batches of one block are sent with
// proofs off after the first. Run alone:
// `node --import ./scripts/swc-register.mjs bench/contracts-ledger.ts`.

/** Full batches the runner lands in one block in this benchmark. */
const BATCHES_A_BLOCK = 8

/** Runs the ledger figures; `transferRows` is the baseline measured by the caller. */
export async function ledgerFigures(transferRows: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const [name, c] of [
    ['ChannelLedger', ChannelLedger],
    ['LedgerVault', LedgerVault],
  ] as const) {
    for (const [m, a] of Object.entries(await c.analyzeMethods())) {
      out[`rows ${name}.${m} (rows)`] = a.rows
      out[`ratio ${name}.${m} rows / transfer rows (x)`] = Number(
        (a.rows / transferRows).toFixed(2),
      )
    }
  }
  const cache = Cache.FileSystem(DEFAULT_CACHE_DIR)
  const t0 = performance.now()
  await compileLedger(cache)
  await CreditToken.compile({ cache })
  out['compile ChannelLedger + action-stack program + CreditToken, cached (s)'] = secs(t0)

  const chain = await startTestChain({ proofsEnabled: false, users: 1, credits: 1_000_000n })
  const payer = chain.payer.key
  const sponsor = chain.users[0]!
  const ledger = await LedgerHandle.deploy(payer, seededKey(9001), seededKey(9002), 10n, 40)
  // BATCHES_A_BLOCK full batches of claims, one user channel each.
  const users = Array.from({ length: LEDGER_BATCH_SIZE * BATCHES_A_BLOCK }, (_, i) => {
    const k = seededKey(9100 + i)
    chain.local.addAccount(k.toPublicKey(), '10000000000')
    return k
  })
  for (const u of users) await ledger.deposit(payer, sponsor, u.toPublicKey(), 100n)
  await ledger.processAll(payer)

  // Claims landing in one block: every claim is built against the same state, then all are sent
  // in one slot; any that collided would be refused. One claim a transaction here (each from its
  // own fee payer, as independent senders would), five fit one.
  const claimTxs = []
  for (const [i, u] of users.entries()) {
    const feePayer = seededKey(9600 + i)
    chain.local.addAccount(feePayer.toPublicKey(), '10000000000')
    const tx = await Mina.transaction(
      { sender: feePayer.toPublicKey(), fee: 1e8 },
      ledger.claimCall(u.toPublicKey(), testDigests(2), ledger.voucher(u, 20n, 1n)),
    )
    await tx.prove()
    claimTxs.push(tx.sign([feePayer]))
  }
  let landed = 0
  for (const tx of claimTxs) if ((await tx.send()).status === 'pending') landed++
  out['claims landed in one block, all built on one state (channels)'] = landed
  chain.local.incrementGlobalSlot(1)

  // Baseline: one proved credit transfer, in this run.
  chain.local.setProofsEnabled(true)
  const token = new CreditToken(creditTokenAddress())
  const t1 = performance.now()
  await send(payer, [sponsor], async () => {
    // The payer holds no credits yet: it pays its own credit account's creation.
    AccountUpdate.fundNewAccount(payer.toPublicKey(), 1)
    await token.transfer(sponsor.toPublicKey(), payer.toPublicKey(), UInt64.from(1))
  })
  const transferSecs = secs(t1)
  out['transfer build+prove, native (s)'] = transferSecs

  // Every pending batch, each built on the state the one before leaves, then all sent in one
  // slot (one fee payer: its nonces order them). The first is proved and timed; a batch's
  // circuit has LEDGER_BATCH_SIZE slots whatever it holds, so every batch proves the same.
  const batches = await ledger.prepare()
  const built = []
  let perTx = 0
  for (const [i, batch] of batches.entries()) {
    chain.local.setProofsEnabled(i === 0)
    const { body, commit } = ledger.batchCall(batch)
    const t2 = performance.now()
    const tx = await Mina.transaction({ sender: payer.toPublicKey(), fee: 1e8 }, body)
    await tx.prove()
    if (i === 0) perTx = secs(t2)
    commit()
    built.push(tx.sign([payer]))
  }
  chain.local.setProofsEnabled(false)
  let batchesLanded = 0
  for (const tx of built) if ((await tx.send()).status === 'pending') batchesLanded++
  const settled = users.filter(
    (u) => ledger.channel(u.toPublicKey()).channel.paidSoFar.toBigInt() === 20n,
  )
  const perBatch = settled.length / batches.length
  out['user channels in one settlement (batch) transaction (channels)'] = perBatch
  out['batch build+prove, native (s)'] = perTx
  out['ratio batch proving / transfer proving (x)'] = Number((perTx / transferSecs).toFixed(2))
  out['proving per user channel, full batch (s)'] = Number((perTx / perBatch).toFixed(2))
  out['ratio proving per channel / transfer proving (x)'] = Number(
    (perTx / perBatch / transferSecs).toFixed(2),
  )
  out['batch transactions landed in one block (transactions)'] = batchesLanded
  out['user channels settled in one block per service, local chain (channels)'] = settled.length
  out['receipts minted to the runner (credits)'] = Number(
    ledger.receipts(ledger.runnerKey.toPublicKey()),
  )
  return out
}

function secs(since: number): number {
  return Number(((performance.now() - since) / 1000).toFixed(1))
}

if (import.meta.url === `file://${process.argv[1]}` && !process.env.VITEST) {
  const { setBackend } = await import('o1js')
  setBackend('native')
  const { setCreditTokenAddress } = await import('../contracts/credit-token.ts')
  const { TEST_TOKEN_KEY } = await import('../contracts/test-chain.ts')
  setCreditTokenAddress(TEST_TOKEN_KEY.toPublicKey())
  const transfer = (await CreditToken.analyzeMethods()).transfer!.rows
  console.log(`rows CreditToken.transfer (baseline) (rows): ${transfer}`)
  for (const [figure, value] of Object.entries(await ledgerFigures(transfer)))
    console.log(`${figure}: ${value}`)
  process.exit(0)
}

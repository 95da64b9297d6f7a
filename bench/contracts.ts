import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setBackend } from 'o1js'
import * as client from '../contracts/client.ts'
import { compileAll } from '../contracts/compile.ts'
import { CreditAdmin } from '../contracts/credit-admin.ts'
import { CreditToken, setCreditTokenAddress } from '../contracts/credit-token.ts'
import { LedgerVault } from '../contracts/ledger-vault.ts'
import { RESULTS_TREE_HEIGHT } from '../contracts/results-tree.ts'
import { ServiceContract } from '../contracts/service-contract.ts'
import { ServiceRegistry } from '../contracts/service-registry.ts'
import { startTestChain, TEST_TOKEN_KEY } from '../contracts/test-chain.ts'
import { ledgerFigures } from './contracts-ledger.ts'

// Contract figures: circuit rows of every method against a plain token transfer, compile time
// cold and cached, the native prove time of one claim covering many jobs, and the figures of
// the collision-free settlement ledger (contracts-ledger.ts; run alone with
// `node --import ./scripts/swc-register.mjs bench/contracts-ledger.ts`).
setBackend('native')

/** Runs the contracts benchmark; `cold: false` skips the cold compile (minutes). */
export async function run(opts: { cold?: boolean } = {}): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {}
  setCreditTokenAddress(TEST_TOKEN_KEY.toPublicKey())
  const transfer = (await CreditToken.analyzeMethods()).transfer!.rows
  out['rows CreditToken.transfer (baseline)'] = transfer
  for (const [name, c] of [
    ['CreditAdmin', CreditAdmin],
    ['ServiceContract', ServiceContract],
    ['LedgerVault', LedgerVault],
    ['ServiceRegistry', ServiceRegistry],
  ] as const) {
    for (const [m, a] of Object.entries(await c.analyzeMethods())) {
      out[`rows ${name}.${m}`] = a.rows
      out[`ratio ${name}.${m} / transfer`] = Number((a.rows / transfer).toFixed(2))
    }
  }
  if (opts.cold ?? true) {
    const dir = mkdtempSync(join(tmpdir(), 'zkrunner-contracts-bench-'))
    const t0 = performance.now()
    await compileAll(TEST_TOKEN_KEY.toPublicKey(), dir)
    out['compile all, cold cache (s)'] = Number(((performance.now() - t0) / 1000).toFixed(1))
    rmSync(dir, { recursive: true, force: true })
  }
  await compileAll(TEST_TOKEN_KEY.toPublicKey())
  const t1 = performance.now()
  await compileAll(TEST_TOKEN_KEY.toPublicKey())
  out['compile all, cached (s)'] = Number(((performance.now() - t1) / 1000).toFixed(1))

  const chain = await startTestChain({ proofsEnabled: true, users: 1, credits: 100_000n })
  const svc = await chain.deployService({ price: 10n, timelock: 20 })
  const user = chain.users[0]!
  await client.deposit(chain.payer, svc.address, user, user.toPublicKey(), 50_000n)
  const jobs = 2 ** (RESULTS_TREE_HEIGHT - 1)
  const digests = Array.from({ length: jobs }, (_, i) =>
    new Uint8Array(32).fill(i % 256).map((b, j) => (j === 0 ? i >> 8 : b)),
  )
  const v = chain.voucher(user, svc, BigInt(jobs) * svc.price, 1n)
  const t2 = performance.now()
  // A full tree: the count proof at capacity (any leaves CID costs the same to sign and check).
  await chain.claimResults(svc, user.toPublicKey(), digests, v)
  out['claim build+prove+send, native (s)'] = Number(((performance.now() - t2) / 1000).toFixed(1))
  out['jobs covered by that claim'] = jobs
  out['max jobs a user per results tree'] = jobs
  // The collision-free settlement prototype: rows, channels a batch, proving a batch and a channel.
  Object.assign(out, await ledgerFigures(transfer))
  // What the page compiles for a deposit, in WebAssembly (contracts-wasm.ts, its own process).
  Object.assign(out, await wasmFigures())
  return out
}

/** Runs bench/contracts-wasm.ts in a child process (the backend is fixed per process). */
function wasmFigures(): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        fileURLToPath(new URL('../scripts/swc-register.mjs', import.meta.url)),
        fileURLToPath(new URL('./contracts-wasm.ts', import.meta.url)),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let text = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      text += d
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`contracts-wasm exited with ${code}`))
      const figures: Record<string, number> = {}
      for (const line of text.split('\n')) {
        const m = /^(.*): ([0-9.]+)$/.exec(line)
        if (m) figures[m[1]!] = Number(m[2])
      }
      resolve(figures)
    })
  })
}

if (import.meta.url === `file://${process.argv[1]}` && !process.env.VITEST) {
  const rows = await run({ cold: !process.argv.includes('--no-cold') })
  console.table(Object.entries(rows).map(([figure, value]) => ({ figure, value })))
  process.exit(0)
}

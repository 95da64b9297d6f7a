import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cache, setBackend } from 'o1js'
import { ChannelLedger, compileLedger } from '../contracts/channel-ledger.ts'
import { CreditToken, setCreditTokenAddress } from '../contracts/credit-token.ts'
import { TEST_TOKEN_KEY } from '../contracts/test-chain.ts'

// What the page's deposit compiles, in the WebAssembly backend the browser has (Node runs the
// same bindings): the credit token (the baseline, measured in this run), then the ledger with
// its action-stack program, each into a fresh key cache, timed from compile to the keys written.
// Writing a prover key is where a 2^16-row circuit failed in WebAssembly (`RuntimeError:
// unreachable` in caml_pasta_fp_plonk_index_encode): every ledger circuit must stay within
// 2^15 rows. Run in its own process (the backend is fixed once o1js starts) by contracts.ts;
// alone: `node --import ./scripts/swc-register.mjs bench/contracts-wasm.ts`.
setBackend('wasm')

/** The figures, each labelled with its unit. */
export async function wasmFigures(): Promise<Record<string, number>> {
  setCreditTokenAddress(TEST_TOKEN_KEY.toPublicKey())
  const out: Record<string, number> = {}
  const rows = Object.values(await ChannelLedger.analyzeMethods()).map((a) => a.rows)
  out['largest ChannelLedger circuit, WebAssembly (rows)'] = Math.max(...rows)
  const dir = mkdtempSync(join(tmpdir(), 'zkrunner-wasm-bench-'))
  try {
    const cache = Cache.FileSystem(dir)
    let t0 = performance.now()
    await CreditToken.compile({ cache })
    const token = secs(t0)
    out['compile CreditToken, WebAssembly, cold cache (baseline) (s)'] = token
    t0 = performance.now()
    await compileLedger(cache)
    const ledger = secs(t0)
    out['compile ChannelLedger + action-stack program, WebAssembly, cold keys (s)'] = ledger
    out['ratio ChannelLedger WebAssembly compile / CreditToken WebAssembly compile (x)'] = Number(
      (ledger / token).toFixed(2),
    )
    // Cached, as the page's second visit: the keys are read back, not recomputed.
    t0 = performance.now()
    await compileLedger(cache)
    out['compile ChannelLedger + action-stack program, WebAssembly, cached (s)'] = secs(t0)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return out
}

function secs(since: number): number {
  return Number(((performance.now() - since) / 1000).toFixed(1))
}

if (import.meta.url === `file://${process.argv[1]}` && !process.env.VITEST) {
  for (const [figure, value] of Object.entries(await wasmFigures()))
    console.log(`${figure}: ${value}`)
  process.exit(0)
}

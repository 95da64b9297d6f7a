import { setBackend } from 'o1js'
import { compileAll } from '../contracts/compile.ts'
import { TEST_TOKEN_KEY } from '../contracts/test-chain.ts'

// Vitest global setup: compiles every contract once, before any test file runs. o1js's file
// cache writes a key's header before its data, so two test files compiling the same circuit at
// once on a fresh machine could read a half-written key; warmed first, they only ever read.
export default async function warmO1jsCache(): Promise<void> {
  setBackend('native')
  const t0 = performance.now()
  const times = await compileAll(TEST_TOKEN_KEY.toPublicKey())
  const total = ((performance.now() - t0) / 1000).toFixed(0)
  console.log(
    `o1js key cache ready in ${total} s (${Object.entries(times)
      .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
      .join(', ')})`,
  )
}

import { it } from 'vitest'
import { run } from '../bench/contracts.ts'

// Entry point of the contracts benchmark under vitest (see vitest.bench.config.ts).
it('contracts benchmark', async () => {
  const rows = await run({ cold: process.env.BENCH_COLD === '1' })
  console.table(Object.entries(rows).map(([figure, value]) => ({ figure, value })))
})

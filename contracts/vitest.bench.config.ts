import { defineConfig } from 'vitest/config'

// Runs the contracts benchmark through vitest, whose transform emits the decorator metadata o1js
// needs (`tsx`/esbuild does not): npx vitest run --config contracts/vitest.bench.config.ts
export default defineConfig({
  test: {
    include: ['contracts/bench.run.ts'],
    environment: 'node',
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
  },
})

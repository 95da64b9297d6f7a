import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from '../test/workers.ts'

export default defineProject({
  test: {
    name: 'chain',
    maxWorkers: PARALLEL_WORKERS,
    include: ['**/*.test.ts'],
    environment: 'node',
    // o1js's native prover: several times faster than wasm for the proofs-on test.
    env: { O1JS_BACKEND: 'native' },
    // Compiling and proving the test contract takes minutes on a cold key cache.
    testTimeout: 15 * 60_000,
    hookTimeout: 15 * 60_000,
  },
})

import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from '../test/workers.ts'

// The shared verifier's own tests, in Node against real components: Helia verified retrieval from
// a loopback trustless gateway, a Mina GraphQL double, o1js Poseidon for the results tree.
export default defineProject({
  test: {
    name: 'verify',
    maxWorkers: PARALLEL_WORKERS,
    root: import.meta.dirname,
    include: ['**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})

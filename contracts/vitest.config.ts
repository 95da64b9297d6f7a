import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from '../test/workers.ts'

export default defineProject({
  test: {
    name: 'contracts',
    maxWorkers: PARALLEL_WORKERS,
    include: ['**/*.test.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
})

import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from '../test/workers.ts'

export default defineProject({
  test: {
    name: 'gitlab-standin',
    maxWorkers: PARALLEL_WORKERS,
    include: ['**/*.test.ts'],
    environment: 'node',
  },
})

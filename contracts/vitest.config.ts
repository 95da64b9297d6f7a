import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'contracts',
    include: ['**/*.test.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
})

import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'github-standin',
    include: ['**/*.test.ts'],
    environment: 'node',
  },
})

import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'gitlab-standin',
    include: ['**/*.test.ts'],
    environment: 'node',
  },
})

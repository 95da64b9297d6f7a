import { defineConfig } from 'vitest/config'

// Each part owns its vitest project (its own environment: node, workerd, browser).
export default defineConfig({
  test: {
    projects: ['*/vitest.config.ts'],
    globalSetup: ['./test/warm-o1js-cache.ts'],
  },
})

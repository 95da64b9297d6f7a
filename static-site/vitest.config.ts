import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from '../test/workers.ts'

// Unit tests of the verification logic and the Playwright page test both run in Node:
// the page test drives a real Chromium, so vitest itself needs no browser environment.
export default defineProject({
  test: {
    name: 'static-site',
    maxWorkers: PARALLEL_WORKERS,
    root: import.meta.dirname,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})

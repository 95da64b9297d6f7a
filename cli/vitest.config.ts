import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from '../test/workers.ts'

// The command-line tools, run in process against the page's doubles (a trustless gateway and a
// Mina GraphQL double on loopback).
export default defineProject({
  test: {
    name: 'cli',
    maxWorkers: PARALLEL_WORKERS,
    root: import.meta.dirname,
    include: ['**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})

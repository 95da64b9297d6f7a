import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'agent',
    // One file at a time, after the other projects (Vitest runs a one-worker project in a group
    // of its own at the end): its files run jobs as system users (`nobody` in two of them) whose
    // processes and temporary files each job's isolation sweeps, so two at once would sweep each
    // other's. See test/workers.ts.
    maxWorkers: 1,
    include: ['**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})

import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'
import { E2eFirstSequencer } from './test/sequencer.ts'

// Each part owns its vitest project (its own environment: node, workerd, browser).
export default defineConfig({
  test: {
    projects: ['*/vitest.config.ts'],
    globalSetup: ['./test/warm-o1js-cache.ts'],
    // The root's own; each project sets its own (test/workers.ts: Vitest does not pass this down;
    // the workerd project stays at one, set so by the Workers pool).
    maxWorkers: Math.max(2, availableParallelism()),
    sequence: { sequencer: E2eFirstSequencer },
  },
})

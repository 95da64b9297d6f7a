import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'
import { E2eFirstSequencer } from './test/sequencer.ts'

// Each part owns its vitest project (its own environment: node, workerd, browser).
export default defineConfig({
  test: {
    projects: ['*/vitest.config.ts'],
    globalSetup: ['./test/warm-o1js-cache.ts'],
    // Vitest's default in a run is one worker fewer than the cores: on a 2-core CI machine, one,
    // so the e2e's half hour (mostly waiting on blocks, jobs and Chromium) and every unit test ran
    // one after another. Two at least: the e2e beside the unit tests.
    maxWorkers: Math.max(2, availableParallelism()),
    sequence: { sequencer: E2eFirstSequencer },
  },
})

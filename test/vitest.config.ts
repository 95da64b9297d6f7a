import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from './workers.ts'

// Cross-part end-to-end tests: the whole local stack (chain, contracts, Worker in workerd, GitLab
// stand-in, agent, gateway) on loopback. Slow: minutes of proving on two cores.
export default defineProject({
  test: {
    name: 'e2e',
    maxWorkers: PARALLEL_WORKERS,
    include: ['**/*.e2e.test.ts'],
    environment: 'node',
    testTimeout: 20 * 60_000,
    // The stack's start deploys two service versions (GitLab, GitHub), proving each transaction,
    // while CI runs the other projects beside it: 40 minutes before a hook gives up.
    hookTimeout: 40 * 60_000,
    // One stack at a time (they share the o1js key cache, the job user and two cores): there is
    // ONE e2e file, and its tests share its stack. Not `fileParallelism: false`: Vitest runs such a
    // project in a group of its own AFTER every other file, so the e2e's half hour (mostly waiting
    // on blocks and jobs) ran alone at the end of CI with a core idle. The root config's sequencer
    // starts it first instead, beside the unit tests.
  },
})

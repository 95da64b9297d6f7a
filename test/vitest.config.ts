import { defineProject } from 'vitest/config'

// Cross-part end-to-end tests: the whole local stack (chain, contracts, Worker in workerd, GitLab
// stand-in, agent, gateway) on loopback. Slow: minutes of proving on two cores.
export default defineProject({
  test: {
    name: 'e2e',
    include: ['**/*.e2e.test.ts'],
    environment: 'node',
    testTimeout: 20 * 60_000,
    // The stack's start deploys two service versions (GitLab, GitHub), proving each transaction,
    // while CI runs the other projects beside it: 40 minutes before a hook gives up.
    hookTimeout: 40 * 60_000,
    // One stack at a time: they share the o1js key cache and two cores.
    fileParallelism: false,
  },
})

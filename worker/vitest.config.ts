import { webcrypto } from 'node:crypto'
import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineProject } from 'vitest/config'
import { PARALLEL_WORKERS } from '../test/workers.ts'
import { TEST_CREDIT_TOKEN_ID, TEST_GENUINE_CODE } from './test-support/constants.ts'

// A fresh HPKE key per run: tests read the public half from GET /v1/keys like any client.
const hpkePrivateKey = Buffer.from(webcrypto.getRandomValues(new Uint8Array(32))).toString(
  'base64url',
)

export default defineProject({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: '../wrangler.toml' },
      miniflare: {
        bindings: {
          HPKE_PRIVATE_KEY: hpkePrivateKey,
          MINA_GRAPHQL_URL: inject('minaUrl'),
          GITLAB_URL: inject('gitlabUrl'),
          GITHUB_API_URL: inject('githubUrl'),
          GITLAB_TIMEOUT_MS: '400',
          // A quota refusal's first wait (provider-quota.test.ts waits it out twice).
          QUOTA_PROBE_SECONDS: '1',
          CHAIN_CACHE_MS: '0',
          // Small, so ledger-incremental.test.ts can show a backlog caught up over reads.
          LEDGER_ACTIONS_PER_READ: '20',
          CREDIT_TOKEN_ID: TEST_CREDIT_TOKEN_ID,
          GENUINE_SERVICE_CODE: JSON.stringify(TEST_GENUINE_CODE),
        },
      },
    })),
  ],
  test: {
    name: 'worker',
    maxWorkers: PARALLEL_WORKERS,
    include: ['**/*.test.ts'],
    exclude: ['test-support/**', 'node_modules/**'],
    globalSetup: ['./test-support/global-setup.ts'],
    // The stand-in's fault queue is shared: files run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
  },
})

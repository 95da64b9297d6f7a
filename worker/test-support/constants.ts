// What global-setup.ts provides to the tests in workerd.
declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the GitLab stand-in. */
    gitlabUrl: string
    /** Base URL of the fake GitHub REST API. */
    githubUrl: string
    /** GraphQL URL of the fake Mina node. */
    minaUrl: string
  }
}

/** GitLab project id of the stand-in project the tests register. */
export const TEST_PROJECT_ID = 42
/** The stand-in's trigger token (a test value, not a secret). */
export const TEST_TRIGGER_TOKEN = 'glptt-test-trigger-token-0123456789'
/** The salt of the test private services' source commitment (31 bytes). */
export const TEST_SALT = '5a17'.repeat(15).concat('5a')
/** The stand-in's read-only API token. */
export const TEST_API_TOKEN = 'glpat-test-read-api-0123456789'
/** Webhook secret the test services seal in their registrations (unless a test picks another). */
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789'
/** The fake GitHub's repository and its fine-grained token (test values, not secrets). */
export const TEST_GITHUB_REPOSITORY = 'zk-org/sample-primes'
export const TEST_GITHUB_TOKEN = 'github_pat_test_actions_write_0123456789'

/** The credit token id the test Worker is configured with (its services' vaults live under it). */
export const TEST_CREDIT_TOKEN_ID = 'xCreditTokenForTheWorkerTestsZ123456789abcdefghij'
/** What the test Worker takes for the genuine contracts (key hashes as a fake node reports them). */
export const TEST_GENUINE_CODE = {
  serviceVkHash: '7001',
  ledgerVkHash: '7003',
  ledgerVaultVkHash: '7004',
  txnVersion: '3',
}

/** One account the fake node knows: app state for a zkApp, a balance for a token account. */
export interface FakeAccount {
  zkappState?: string[]
  balance?: string
  verificationKey?: { hash: string }
  permissions?: Record<string, unknown>
  /**
   * A zkApp's actions, one account update (and block) each: decimal fields and the action state
   * after it (the tests hash in workerd, where protocol's Poseidon runs; the fake hashes nothing).
   */
  actions?: FakeAction[]
  /** What the fake archive lists for the account instead of `actions` (a lying archive). */
  archiveActions?: FakeAction[]
}

/** One action on the fake chain and the account's action state after it. */
export interface FakeAction {
  data: string[]
  state: string
}

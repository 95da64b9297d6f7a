import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { OuterJob } from '../call/call-driver.ts'
import type { AgentConfig } from '../config.ts'
import type { Isolation } from '../isolation/job-user.ts'
import { CALL_TOKEN_VARIABLE } from '../signer/call-grants.ts'
import { startSigner } from '../signer/signer-server.ts'

/**
 * Runs `run` with a socket on which the job `outer` may make driver calls (`zkrunner-agent call`)
 * while it runs, for a job of the custom executor that runs as `jobUser` and so cannot hold the
 * key: the agent (root) makes each call with its key, budgets and ledger, as the signer does for
 * the jobs it runs. `run` gets the variables to add to the job's environment. Without a job user
 * the job's own process may hold the key, and `call` runs there as before.
 */
export async function withJobCalls<T>(
  config: AgentConfig,
  isolation: Isolation,
  outer: OuterJob,
  run: (env: Record<string, string>) => Promise<T>,
  log: (line: string) => void = () => {},
): Promise<T> {
  if (!isolation.user) return run({})
  // Root's, and only passable by others (they reach the socket by its name, list nothing).
  const dir = await mkdtemp(join(tmpdir(), 'zkrunner-calls-'))
  try {
    await chmod(dir, 0o711)
    const server = await startSigner(
      config,
      isolation,
      join(dir, 'call.sock'),
      log,
      undefined,
      true,
    )
    const grant = server.grantCalls(outer)
    try {
      return await run({
        ZKRUNNER_SIGNER_SOCKET: server.socketPath,
        [CALL_TOKEN_VARIABLE]: grant.token,
      })
    } finally {
      grant.revoke()
      await server.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

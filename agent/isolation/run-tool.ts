import { spawn } from 'node:child_process'
import { AgentError, AgentErrorCode } from '../errors.ts'

/** How runTool runs a tool: as a user (its uid and gid), where, with a directory fd as fd 3. */
export interface ToolOptions {
  uid?: number
  gid?: number
  cwd?: string
  /** Passed to the tool as its fd 3 (a directory the agent opened without following links). */
  fd3?: number
}

/**
 * Runs a system tool from an argument array with nothing of the agent's environment but a fixed
 * PATH. Resolves when it exits 0; otherwise rejects with SPAWN_FAILED, `failure` and the start of
 * its stderr (the tools' own words say which entry and why).
 */
export function runTool(argv: string[], failure: string, options: ToolOptions = {}): Promise<void> {
  const { fd3, ...ids } = options
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      ...ids,
      env: { PATH: '/usr/bin:/bin' },
      stdio: fd3 === undefined ? ['ignore', 'ignore', 'pipe'] : ['ignore', 'ignore', 'pipe', fd3],
    })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString()
    })
    child.once('error', (e) =>
      reject(new AgentError(AgentErrorCode.SPAWN_FAILED, `${argv[0]}: ${e.message}`)),
    )
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new AgentError(
              AgentErrorCode.SPAWN_FAILED,
              `${failure}: ${stderr.trim().slice(0, 512)}`,
            ),
          ),
    )
  })
}

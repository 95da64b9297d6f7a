import { createConnection } from 'node:net'
import { createInterface } from 'node:readline'
import { AgentError, AgentErrorCode } from '../errors.ts'
import type { JobIo } from '../pipeline/run-command.ts'
import type { SignerFrame, SignerRequest } from './signer-protocol.ts'

/**
 * `zkrunner-agent run` through the signer: sends the one request (the command and the caller's
 * variables), mirrors the job's output as the signer streams it, and resolves with the job's exit
 * code. The caller holds no key and signs nothing.
 */
export function runThroughSigner(
  socketPath: string,
  request: SignerRequest,
  io: JobIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let settled = false
    const done = (f: () => void) => {
      if (settled) return
      settled = true
      f()
    }
    socket.on('error', (e) =>
      done(() =>
        reject(
          new AgentError(
            AgentErrorCode.SIGNER_REFUSED,
            `cannot reach the signer at ${socketPath}: ${e.message}`,
          ),
        ),
      ),
    )
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`))
    const lines = createInterface({ input: socket, crlfDelay: Number.POSITIVE_INFINITY })
    lines.on('line', (line) => {
      let frame: SignerFrame
      try {
        frame = JSON.parse(line) as SignerFrame
      } catch {
        return
      }
      if (frame.t === 'out') io.stdout.write(Buffer.from(frame.d, 'base64'))
      else if (frame.t === 'err') io.stderr.write(Buffer.from(frame.d, 'base64'))
      else if (frame.t === 'exit') done(() => resolve(frame.code))
      else if (frame.t === 'error')
        done(() =>
          reject(
            new AgentError(
              (Object.values(AgentErrorCode) as string[]).includes(frame.code)
                ? (frame.code as AgentErrorCode)
                : AgentErrorCode.SIGNER_REFUSED,
              frame.message,
            ),
          ),
        )
    })
    lines.on('close', () =>
      done(() =>
        reject(new AgentError(AgentErrorCode.SIGNER_REFUSED, 'the signer closed the connection')),
      ),
    )
  })
}

import { createConnection } from 'node:net'
import { createInterface } from 'node:readline'
import { AgentError, AgentErrorCode } from '../errors.ts'
import type { JobIo } from '../pipeline/run-command.ts'
import type { SignerFrame, SignerRequest, SignerRunRequest } from './signer-protocol.ts'

/**
 * `zkrunner-agent run` through the signer: sends the one request (the command and the caller's
 * variables), mirrors the job's output as the signer streams it, and resolves with the job's exit
 * code. The caller holds no key and signs nothing.
 */
export async function runThroughSigner(
  socketPath: string,
  request: SignerRunRequest,
  io: JobIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const end = await askSigner(socketPath, request, io)
  if (end.t !== 'exit')
    throw new AgentError(AgentErrorCode.SIGNER_REFUSED, 'the signer answered no exit code')
  return end.code
}

/** Where a job the signer ran stands: its phase (null when it has none) and bundle CID. */
export async function signerJobStatus(
  socketPath: string,
  jobId: string,
): Promise<{ phase: string | null; bundleCid?: string }> {
  const end = await askSigner(socketPath, { v: 1, op: 'status', jobId })
  if (end.t !== 'status')
    throw new AgentError(AgentErrorCode.SIGNER_REFUSED, 'the signer answered no status')
  return { phase: end.phase, ...(end.bundleCid ? { bundleCid: end.bundleCid } : {}) }
}

/** Sends one request; mirrors output frames to `io`; resolves with the last frame (exit or status). */
function askSigner(
  socketPath: string,
  request: SignerRequest,
  io: JobIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<Extract<SignerFrame, { t: 'exit' | 'status' }>> {
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
      else if (frame.t === 'exit' || frame.t === 'status') done(() => resolve(frame))
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

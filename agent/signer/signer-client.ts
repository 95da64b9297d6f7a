import { mkdir, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { dirname, isAbsolute, join, normalize } from 'node:path'
import { createInterface } from 'node:readline'
import { AgentError, AgentErrorCode } from '../errors.ts'
import type { JobIo } from '../pipeline/run-command.ts'
import type {
  SignerCallRequest,
  SignerFrame,
  SignerRequest,
  SignerRunRequest,
} from './signer-protocol.ts'

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

/** A driver call made by the signer for this job: the inner job and, waited for, its bundle. */
export interface SignerCallResult {
  jobId: string
  cumulativeAmount: string
  result?: { bundleCid: string; manifestDigest: string; exitCode: number | null; outDir: string }
}

/**
 * `zkrunner-agent call` from a job the signer runs: the signer (which holds the key, the budgets
 * and the ledger) makes the call for the job its token names, verifies the result, and sends the
 * verified files, which are written under `outDir` here, as the job's own user.
 */
export async function callThroughSigner(
  socketPath: string,
  request: SignerCallRequest,
  outDir: string,
): Promise<SignerCallResult> {
  const files: { path: string; bytes: Buffer }[] = []
  const end = await askSigner(socketPath, request, undefined, (path, bytes) =>
    files.push({ path, bytes }),
  )
  if (end.t !== 'call')
    throw new AgentError(AgentErrorCode.SIGNER_REFUSED, 'the signer answered no call')
  for (const f of files) {
    const rel = normalize(f.path)
    // The signer's paths are its own verified ones; still, nothing lands outside `outDir`.
    if (isAbsolute(rel) || rel.startsWith('..')) continue
    const target = join(outDir, rel)
    await mkdir(dirname(target), { recursive: true })
    await writeFile(target, f.bytes)
  }
  return {
    jobId: end.jobId,
    cumulativeAmount: end.cumulativeAmount,
    ...(end.result ? { result: { ...end.result, outDir } } : {}),
  }
}

/** Sends one request; mirrors output frames to `io`; resolves with the last frame (exit, status or call). */
function askSigner(
  socketPath: string,
  request: SignerRequest,
  io: JobIo = { stdout: process.stdout, stderr: process.stderr },
  onFile: (path: string, bytes: Buffer) => void = () => {},
): Promise<Extract<SignerFrame, { t: 'exit' | 'status' | 'call' }>> {
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
      else if (frame.t === 'file') onFile(frame.path, Buffer.from(frame.d, 'base64'))
      else if (frame.t === 'exit' || frame.t === 'status' || frame.t === 'call')
        done(() => resolve(frame))
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

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { CallOptions } from '../call/call-command.ts'
import type { CallResult, OuterJob } from '../call/call-driver.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import type { CallGrants } from './call-grants.ts'
import type { SignerCallRequest } from './signer-protocol.ts'

/** Makes one call for a job (callFor with the signer's config, or a double in tests). */
export type MakeCall = (outer: OuterJob, opts: CallOptions) => Promise<CallResult>

/** A driver call made by the signer: the call, and the verified files for the caller to write. */
export interface SignerCallOutcome {
  call: CallResult
  /** Paths relative to the caller's out directory (`files/…`, `outputs.json`). */
  files: { path: string; bytes: Buffer }[]
}

/**
 * A driver call asked of the signer. The caller is whichever job holds `request.token`; the
 * signer's grant says which job that is (and refuses a token no running job holds). The call
 * signs with the signer's key within the signer's budgets, recorded in its own ledger: nothing of
 * it is in the job's reach. Verified files are written first into a directory of the signer's
 * own, then handed to the caller as bytes, so the signer never writes into the job's directories.
 * `started` is called once the caller is known to be a running job (a waited call may take long).
 */
export async function signerCall(
  request: SignerCallRequest,
  grants: CallGrants,
  make: MakeCall,
  started: () => void = () => {},
): Promise<SignerCallOutcome> {
  const outer = grants.outerFor(request.token)
  if (!outer)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      'no job the signer is running holds this call token: a driver call is made from inside a running job, with its own ZKRUNNER_CALL_TOKEN',
    )
  // Revoking the token at the job's end aborts the call: it signs nothing more, and stops
  // waiting for a driver job it already paid for (once); the result is not handed to anyone.
  const signal = grants.endOf(request.token) ?? AbortSignal.abort()
  started()
  const out = await mkdtemp(join(tmpdir(), 'zkrunner-signer-call-'))
  try {
    const call = await make(outer, {
      driver: request.driver,
      params: request.params,
      wait: request.wait,
      out,
      signal,
    })
    if (signal.aborted) throw callerEnded(call.jobId)
    return { call, files: call.result ? await filesUnder(out) : [] }
  } finally {
    await rm(out, { recursive: true, force: true })
  }
}

function callerEnded(jobId: string): AgentError {
  return new AgentError(
    AgentErrorCode.CALL_REFUSED,
    `the calling job has ended: driver job ${jobId} is not awaited and its result is handed to no one`,
  )
}

async function filesUnder(dir: string): Promise<{ path: string; bytes: Buffer }[]> {
  const out: { path: string; bytes: Buffer }[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    const path = join(e.parentPath, e.name)
    out.push({ path: relative(dir, path), bytes: await readFile(path) })
  }
  return out
}

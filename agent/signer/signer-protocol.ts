import { z } from 'zod'

/**
 * What `zkrunner-agent run` may ask the signer: run this command, in this directory, with these
 * CI variables, as a zkrunner job. Nothing else signs. There is no way to hand the signer a manifest,
 * output, samples, an exit code or bytes to sign: it starts the job itself and signs only what it
 * observed. Unknown fields are refused (strict), so a client cannot smuggle one in.
 */
export const SignerRunRequestSchema = z.strictObject({
  v: z.literal(1),
  op: z.literal('run'),
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(65_536)).max(1024),
  /** The caller's working directory: the job's build directory. */
  cwd: z.string().startsWith('/').max(4096),
  /**
   * The caller's variables (its environment; on GitHub with the identity from the event file,
   * read by the caller). The job's identity and its allow-listed environment come from them.
   */
  vars: z.record(z.string().max(256), z.string().max(131_072)),
  options: z.strictObject({
    jobId: z.string().max(256).optional(),
    service: z.string().max(256).optional(),
    user: z.string().max(256).optional(),
    sourceCommitment: z.string().max(256).optional(),
    artifacts: z.array(z.string().max(4096)).max(256),
    passEnv: z.array(z.string().max(256)).max(256),
    /**
     * False before anything is checked out (the GitHub `started` hook): the commit that runs is
     * then the CI's word (`GITHUB_SHA`), not whatever an earlier job left in the workspace.
     */
    readCheckout: z.boolean().optional(),
    /**
     * The GitHub `started` hook: sign the not-run result when the commit does not match, and run
     * nothing when it does (exit 0). A private commitment is checked only with the signer's own
     * openings, which the hook (the job user) does not hold, so the hook cannot tell which.
     */
    mismatchOnly: z.boolean().optional(),
  }),
})
/** A request to the signer: run one job. */
export type SignerRunRequest = z.infer<typeof SignerRunRequestSchema>

/** Where a job the signer ran stands (the GitHub `completed` hook asks): public, signs nothing. */
export const SignerStatusRequestSchema = z.strictObject({
  v: z.literal(1),
  op: z.literal('status'),
  jobId: z.string().max(256),
})

/**
 * A driver call (`zkrunner-agent call`) from inside a job the signer runs. The job names nothing
 * about itself: its call token (`ZKRUNNER_CALL_TOKEN`, given to that job alone while it runs)
 * says which job calls, and the signer holds the key, the budget and the ledger. Job code that
 * talks to the socket itself gets no further than `call` would.
 */
export const SignerCallRequestSchema = z.strictObject({
  v: z.literal(1),
  op: z.literal('call'),
  token: z.string().regex(/^[0-9a-f]{64}$/),
  driver: z.string().max(256),
  /** `NAME=VALUE` pairs as given to `--param`. */
  params: z.array(z.string().max(65_536)).max(256),
  wait: z.boolean(),
})
/** A driver call asked of the signer. */
export type SignerCallRequest = z.infer<typeof SignerCallRequestSchema>

/** Every request the signer answers: run a job, make a driver call for one, or say where one stands. */
export const SignerRequestSchema = z.discriminatedUnion('op', [
  SignerRunRequestSchema,
  SignerCallRequestSchema,
  SignerStatusRequestSchema,
])
/** A request to the signer. */
export type SignerRequest = z.infer<typeof SignerRequestSchema>

/** A request is one JSON line; longer ones are refused before they are parsed. */
export const MAX_REQUEST_BYTES = 1024 * 1024

// A job user could otherwise hold the signer's memory with idle half-sent requests (1 MiB each)
// or start jobs without end: every runner job would then go unsigned.
/** Connections the signer holds at once; more are closed as they arrive. */
export const MAX_SIGNER_CONNECTIONS = 16
/** Jobs the signer runs at once; more are refused (`SIGNER_REFUSED`, busy). */
export const MAX_SIGNER_RUNS = 4
/** A connection that has not sent its whole request line by then is closed. */
export const SIGNER_REQUEST_TIMEOUT_MS = 10_000

/**
 * What the signer sends back, one JSON line each: the job's output as it comes (`out`, `err`,
 * base64), then how it ended (`exit`) or why it was refused (`error`); for a driver call, the
 * verified files (`file`) and then the call (`call`).
 */
export type SignerFrame =
  | { t: 'out' | 'err'; d: string }
  | { t: 'exit'; code: number }
  | { t: 'status'; phase: string | null; bundleCid?: string }
  /** A verified file of a driver call's result (`files/…` or `outputs.json`), base64. */
  | { t: 'file'; path: string; d: string }
  /** How a driver call ended: the inner job, and with `wait` its verified bundle. */
  | {
      t: 'call'
      jobId: string
      cumulativeAmount: string
      result?: { bundleCid: string; manifestDigest: string; exitCode: number | null }
    }
  | { t: 'error'; code: string; message: string }

import { join } from 'node:path'
import { Field, Poseidon } from 'o1js'
import { z } from 'zod'
import {
  CallPathSchema,
  PublicKeySchema,
  parseJsonWith,
  parseWith,
  RequestIdSchema,
  receiptTokenIdOf,
} from '../../protocol/index.ts'
import { devKeyWallet } from '../../static-site/src/wallet/dev-key.ts'
import { WorkerClient } from '../../static-site/src/worker-client.ts'
import { verifyFromEndpoints } from '../../verify/from-endpoints.ts'
import { createVerifiedReader } from '../../verify/gateway-reader.ts'
import { GraphqlChainReader } from '../../verify/index.ts'
import type { AgentConfig } from '../config.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { loadRunnerKey } from '../keys.ts'
import { Spool } from '../spool/spool.ts'
import { fileCallLedger } from './call-budget.ts'
import { type CallResult, callDriver, type OuterJob } from './call-driver.ts'

// `zkrunner-agent call`, assembled from the agent's config (budgets, gateways, genuine code,
// validated once by loadConfig) and the outer job's own `ZKRUNNER_*` variables.

/** How often the Worker's job record is read while waiting for the driver's result. */
const POLL_MS = 1000

const OuterEnvSchema = z.object({
  ZKRUNNER_JOB_ID: RequestIdSchema,
  ZKRUNNER_SERVICE: PublicKeySchema,
  ZKRUNNER_CALL_PATH: z.string().max(4096).optional(),
})

/** The outer job from its variables: a call is only ever made from inside a zkrunner job. */
export function outerJobFromEnv(env: NodeJS.ProcessEnv): OuterJob {
  const parsed = parseWith(OuterEnvSchema, env)
  if (!parsed.ok)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `call runs inside a zkrunner job (ZKRUNNER_JOB_ID, ZKRUNNER_SERVICE): ${parsed.error.message}`,
    )
  const {
    ZKRUNNER_JOB_ID: jobId,
    ZKRUNNER_SERVICE: service,
    ZKRUNNER_CALL_PATH: path,
  } = parsed.value
  if (path === undefined || path === '') return { jobId, service }
  const callPath = parseJsonWith(CallPathSchema, path)
  if (!callPath.ok)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `ZKRUNNER_CALL_PATH: ${callPath.error.message}`,
    )
  return { jobId, service, callPath: callPath.value }
}

/**
 * The outer job as this agent spooled it, not as the caller's environment says: it must be a job
 * this agent is running now, and its service and call path are the agent's record. Job code sets
 * its own environment, so a job id taken on its word alone would let it draw a fresh per-job
 * budget, or list inner jobs in another job's manifest.
 */
export async function runningOuterJob(dataDir: string, claimed: OuterJob): Promise<OuterJob> {
  const spool = new Spool(dataDir)
  const [state, meta] = await Promise.all([
    spool.state(claimed.jobId).catch(() => null),
    spool.meta(claimed.jobId).catch(() => null),
  ])
  if (state?.phase !== 'running' || meta === null)
    throw new AgentError(
      AgentErrorCode.CALL_REFUSED,
      `job ${claimed.jobId} is not a job this runner is running: a call is made from inside one`,
    )
  return {
    jobId: meta.jobId,
    service: meta.service,
    ...(meta.callPath?.length ? { callPath: meta.callPath } : {}),
  }
}

/** `NAME=VALUE` pairs as a record; a pair without `=` or a repeated name is refused. */
export function paramsOf(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0)
      throw new AgentError(AgentErrorCode.CALL_REFUSED, `--param ${pair}: expected NAME=VALUE`)
    const name = pair.slice(0, at)
    if (Object.hasOwn(out, name))
      throw new AgentError(AgentErrorCode.CALL_REFUSED, `--param ${name} given twice`)
    out[name] = pair.slice(at + 1)
  }
  return out
}

/** What one call asks: the driver, its `--param` pairs, whether to wait, and where results go. */
export interface CallOptions {
  driver: string
  params: string[]
  wait: boolean
  out?: string
  /**
   * Aborted when the calling job ends: nothing more is signed, and a submitted call's result is
   * no longer awaited (the Worker job was paid once; it is never re-sent).
   */
  signal?: AbortSignal
}

/**
 * Runs one call from the command line, in the job's own process: only where that process may
 * hold the runner key (a job that runs as the agent's own user). Where jobs are kept from the key,
 * `call` goes through the signer instead (callThroughSigner), which holds the key, the budget and
 * the ledger outside the job.
 */
export async function runCall(
  config: AgentConfig,
  opts: CallOptions,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<CallResult> {
  checkCallConfig(config)
  const outer = await runningOuterJob(config.dataDir, outerJobFromEnv(env))
  return callFor(config, outer, opts, log)
}

/** Refuses a call on a runner whose operator set no budget, or that cannot verify results. */
function checkCallConfig(config: AgentConfig): void {
  if (config.callBudgetPerJob === undefined || config.callBudgetPerService === undefined)
    throw new AgentError(
      AgentErrorCode.CALL_BUDGET_EXHAUSTED,
      'this runner has no call budget (callBudgetPerJob and callBudgetPerService): it makes no driver calls',
    )
  if (!config.gateways || !config.genuineCode || !config.creditToken)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      'call verifies the driver result: set gateways, genuineCode and creditToken',
    )
}

/**
 * One call for `outer` (a job this runner runs, by its own record), with the runner key, the
 * operator's budgets and the ledger of `config`. The signer calls it for the jobs it runs.
 */
export async function callFor(
  config: AgentConfig,
  outer: OuterJob,
  opts: CallOptions,
  log: (line: string) => void,
): Promise<CallResult> {
  checkCallConfig(config)
  const { gateways, genuineCode, creditToken } = config
  // TokenId.derive(credit token address): the same derivation as a service's receipt token.
  const creditTokenId = receiptTokenIdOf(creditToken!)
  if (!creditTokenId.ok)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `creditToken: ${creditTokenId.error.message}`,
    )
  const driver = parseWith(PublicKeySchema, opts.driver)
  if (!driver.ok)
    throw new AgentError(AgentErrorCode.CALL_REFUSED, `${opts.driver}: not a service address`)
  const values = paramsOf(opts.params)
  const key = await loadRunnerKey(config)
  const worker = new WorkerClient(config.workerUrl)
  const chain = new GraphqlChainReader(config.minaGraphqlUrl, config.archiveUrl)
  const reader = await createVerifiedReader(gateways!)
  try {
    return await callDriver(
      {
        driver: driver.value,
        values,
        outer,
        wait: opts.wait,
        outDir: opts.out ?? join(process.cwd(), 'zkrunner-calls', outer.jobId),
      },
      {
        worker,
        chain,
        readDescriptor: (cid) => reader.readCid(cid),
        wallet: devKeyWallet(key.privateKey),
        poseidon: async (fields) => Poseidon.hash(fields.map((f) => Field(f))).toBigInt(),
        budget: { perJob: config.callBudgetPerJob!, perService: config.callBudgetPerService! },
        ledger: fileCallLedger(config.dataDir),
        verify: (target) =>
          verifyFromEndpoints(
            {
              minaGraphqlUrl: config.minaGraphqlUrl,
              archiveUrl: config.archiveUrl,
              gateways: gateways!,
              genuine: { creditTokenId: creditTokenId.value, code: genuineCode! },
            },
            target,
          ),
        nextPoll: () =>
          new Promise<void>((r) => {
            const t = setTimeout(r, POLL_MS)
            opts.signal?.addEventListener(
              'abort',
              () => {
                clearTimeout(t)
                r()
              },
              { once: true },
            )
          }),
        ...(opts.signal ? { signal: opts.signal } : {}),
        log,
      },
    )
  } finally {
    await reader.stop()
  }
}

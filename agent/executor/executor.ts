import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { AgentConfig } from '../config.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { requestParameters } from './request-parameters.ts'

/** The stages whose script is the user's job: sampled and bundled. Others run plainly. */
export const SAMPLED_STAGES = new Set(['step_script', 'build_script'])

/** The JSON `config_exec` prints: where GitLab Runner puts builds and caches for this executor. */
export function executorConfig(
  config: Pick<AgentConfig, 'dataDir'>,
  version: string,
): Record<string, unknown> {
  return {
    builds_dir: join(config.dataDir, 'builds'),
    cache_dir: join(config.dataDir, 'cache'),
    builds_dir_is_shared: false,
    driver: { name: 'zkrunner', version },
  }
}

/** A job's identity as the Worker passes it in pipeline variables (`CUSTOM_ENV_ZKRUNNER_*`). */
export interface ExecutorJob {
  jobId: string
  service: string
  user: string
  sourceCommitment: string
  /** The parameters as the job ran them: hashed into the manifest's requestDigest. */
  parameters: Record<string, string>
  artifacts: string[]
  cwd: string
  voucher?: unknown
}

/** Reads the zkrunner job from `CUSTOM_ENV_*`; null for a job that is not a zkrunner job. */
export function jobFromEnv(env: NodeJS.ProcessEnv, fallbackCwd: string): ExecutorJob | null {
  const v = (name: string) => env[`CUSTOM_ENV_${name}`]
  const jobId = v('ZKRUNNER_JOB_ID')
  if (!jobId) return null
  const service = v('ZKRUNNER_SERVICE')
  const user = v('ZKRUNNER_USER')
  const sourceCommitment = v('ZKRUNNER_SOURCE_COMMITMENT') ?? v('CI_COMMIT_SHA')
  if (!service || !user || !sourceCommitment)
    throw new AgentError(
      AgentErrorCode.EXECUTOR_USAGE,
      'ZKRUNNER_JOB_ID is set but ZKRUNNER_SERVICE, ZKRUNNER_USER or the commit SHA is missing',
    )
  let voucher: unknown
  const vText = v('ZKRUNNER_VOUCHER')
  if (vText) {
    try {
      voucher = JSON.parse(vText)
    } catch {
      throw new AgentError(AgentErrorCode.EXECUTOR_USAGE, 'ZKRUNNER_VOUCHER is not JSON')
    }
  }
  return {
    jobId,
    service,
    user,
    sourceCommitment,
    parameters: requestParameters(v),
    artifacts: (v('ZKRUNNER_ARTIFACTS') ?? '')
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean),
    cwd: v('CI_PROJECT_DIR') ?? fallbackCwd,
    voucher,
  }
}

/** GitLab Runner's failure codes for this call, from its environment. */
export function failureCodes(env: NodeJS.ProcessEnv): { build: number; system: number } {
  return {
    build: Number(env.BUILD_FAILURE_EXIT_CODE ?? 1),
    system: Number(env.SYSTEM_FAILURE_EXIT_CODE ?? 2),
  }
}

/** Runs a stage script plainly (not a sampled stage), streaming its output; resolves to its exit code. */
export function runPlain(script: string, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: 'inherit', cwd })
    child.on('error', (e) =>
      reject(new AgentError(AgentErrorCode.SPAWN_FAILED, `bash: ${e.message}`)),
    )
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)))
  })
}

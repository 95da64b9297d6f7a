import { readFileSync } from 'node:fs'
import { variablesOfDispatchEvent } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'

/** The identity variables a GitHub job's `ZKRUNNER_*` come from: the event file, never `env:`. */
const IDENTITY_PREFIX = 'ZKRUNNER_'

/** Whether the agent runs inside a GitHub Actions job (a step, a wrapper shell or a job hook). */
export const inGithubActions = (env: NodeJS.ProcessEnv): boolean => env.GITHUB_ACTIONS === 'true'

/**
 * A GitHub job's variables for jobIdentity: the environment, with the `ZKRUNNER_*` identity taken
 * from the `workflow_dispatch` inputs in `GITHUB_EVENT_PATH` and from nowhere else. A workflow's
 * `env:` (or a step that wrote `$GITHUB_ENV`) cannot name another job, service or user. Returns
 * null when the run was not dispatched with a zkrunner job id: not a zkrunner job.
 */
export function githubJobVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv | null {
  if (env.GITHUB_EVENT_NAME !== 'workflow_dispatch' || !env.GITHUB_EVENT_PATH) return null
  let text: string
  try {
    text = readFileSync(env.GITHUB_EVENT_PATH, 'utf8')
  } catch (e) {
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `GITHUB_EVENT_PATH: cannot read the event file: ${(e as Error).message}`,
    )
  }
  const parsed = variablesOfDispatchEvent(text)
  if (!parsed.ok)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `GITHUB_EVENT_PATH: ${parsed.error.message}`,
    )
  if (!parsed.value.ZKRUNNER_JOB_ID) return null
  const vars: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env)) if (!k.startsWith(IDENTITY_PREFIX)) vars[k] = v
  return { ...vars, ...parsed.value }
}

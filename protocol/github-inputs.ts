import { z } from 'zod'
import { ok, type Result } from './errors.ts'
import { parseJsonWith } from './parse.ts'

/**
 * The `workflow_dispatch` inputs a GitHub zkrunner job is started with, named after the
 * `ZKRUNNER_*` variables a GitLab pipeline gets. GitHub passes inputs, not variables: the Worker
 * sends these names and the runner agent reads them back from the event file at
 * `GITHUB_EVENT_PATH`. The job's own parameters are inputs under their own names (`LIMIT`), which
 * the workflow maps into the step's `env:`. The workflow's `run-name` must carry `zk_job_id`: that
 * is how a run is found again when the dispatch answered 204 without its id.
 */
export const GITHUB_INPUT_OF_VARIABLE = {
  ZKRUNNER_JOB_ID: 'zk_job_id',
  ZKRUNNER_SERVICE: 'zk_service',
  ZKRUNNER_USER: 'zk_user',
  ZKRUNNER_JOB_NAME: 'zk_job_name',
  ZKRUNNER_SOURCE_COMMITMENT: 'zk_source_commitment',
  ZKRUNNER_PARAMETERS: 'zk_parameters',
  ZKRUNNER_VOUCHER: 'zk_voucher',
  ZKRUNNER_ARTIFACTS: 'zk_artifacts',
} as const

/** GitHub's limits on one dispatch: at most 25 inputs and 65,535 characters of values in all. */
export const GITHUB_MAX_INPUTS = 25
export const GITHUB_MAX_INPUT_CHARS = 65_535

/** The `run-name` a zkrunner workflow gives its runs, so a run is found by its job id. */
export const githubRunName = (jobId: string): string => `zkrunner ${jobId}`

/** The job id a run's `display_title` names (`zkrunner <32 hex>`), or null. */
export function jobIdOfRunTitle(title: string): string | null {
  const m = /(?:^|\s)zkrunner ([0-9a-f]{32})(?:\s|$)/.exec(title)
  return m?.[1] ?? null
}

/** `ZKRUNNER_*` variables as dispatch inputs (the Worker's side). */
export function githubInputsOf(variables: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(variables)) {
    const input = (GITHUB_INPUT_OF_VARIABLE as Record<string, string>)[name]
    out[input ?? name] = value
  }
  return out
}

// Input values are strings in the event file (`workflow_dispatch` declares them `type: string`).
const DispatchEventSchema = z.object({
  inputs: z.record(z.string().max(256), z.string().max(GITHUB_MAX_INPUT_CHARS)).nullish(),
})

/**
 * The job's `ZKRUNNER_*` variables from the `workflow_dispatch` event file (the runner agent's
 * side), each `zk_*` input under its variable's name. Other inputs (the parameters) are left out:
 * the agent checks a parameter against the job's own environment, what the step really ran with.
 * The file comes from the runner, but its inputs from whoever dispatched the run: validate them
 * afterwards with `parseJobVariables` like GitLab's variables.
 */
export function variablesOfDispatchEvent(eventJson: string): Result<Record<string, string>> {
  const parsed = parseJsonWith(DispatchEventSchema, eventJson)
  if (!parsed.ok) return parsed
  const byInput = new Map<string, string>(
    Object.entries(GITHUB_INPUT_OF_VARIABLE).map(([variable, input]) => [input, variable]),
  )
  const out: Record<string, string> = {}
  for (const [input, value] of Object.entries(parsed.value.inputs ?? {})) {
    const variable = byInput.get(input)
    if (variable !== undefined) out[variable] = value
  }
  return ok(out)
}

import { z } from 'zod'
import { ok, type Result } from './errors.ts'
import { parseJsonWith } from './parse.ts'

/** GitHub's cap on all of a dispatch's input values together. */
const MAX_INPUT_CHARS = 65_535

// Input values are strings in the event file (a zkrunner workflow declares them `type: string`).
const DispatchEventSchema = z.object({
  inputs: z.record(z.string().max(256), z.string().max(MAX_INPUT_CHARS)).nullish(),
})

/**
 * A GitHub job's `ZKRUNNER_*` variables from its `workflow_dispatch` event file (the runner
 * agent's side). The Worker dispatches the variables a GitLab pipeline gets as inputs of the same
 * names (`ZKRUNNER_JOB_ID`, …), and the runner writes them to `GITHUB_EVENT_PATH`. Other inputs
 * (the parameters) are left out: the agent checks a parameter against the job's own environment,
 * what the step really ran with. The file comes from the runner, but its inputs from whoever
 * dispatched the run: validate them afterwards with `parseJobVariables` like GitLab's variables.
 */
export function variablesOfDispatchEvent(eventJson: string): Result<Record<string, string>> {
  const parsed = parseJsonWith(DispatchEventSchema, eventJson)
  if (!parsed.ok) return parsed
  const out: Record<string, string> = {}
  for (const [input, value] of Object.entries(parsed.value.inputs ?? {}))
    if (input.startsWith('ZKRUNNER_')) out[input] = value
  return ok(out)
}

import { z } from 'zod'
import { ParameterNameSchema, parseJsonWith, WellFormedStringSchema } from '../../protocol/index.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'

const ParametersVariableSchema = z.record(ParameterNameSchema, WellFormedStringSchema.max(4096))

/**
 * The job's parameters from `ZKRUNNER_PARAMETERS` (the Worker's canonical JSON of the validated
 * values), each checked against the variable the job itself sees: the manifest's requestDigest
 * must describe what ran, not only what the Worker said. Absent means no parameters.
 */
export function requestParameters(
  variable: (name: string) => string | undefined,
): Record<string, string> {
  const text = variable('ZKRUNNER_PARAMETERS')
  if (text === undefined || text === '') return {}
  const parsed = parseJsonWith(ParametersVariableSchema, text)
  if (!parsed.ok)
    throw new AgentError(
      AgentErrorCode.EXECUTOR_USAGE,
      `ZKRUNNER_PARAMETERS: ${parsed.error.message}`,
    )
  for (const [name, value] of Object.entries(parsed.value)) {
    if (variable(name) !== value)
      throw new AgentError(
        AgentErrorCode.EXECUTOR_USAGE,
        `ZKRUNNER_PARAMETERS names ${name}=${JSON.stringify(value)}, but the job's ${name} differs`,
      )
  }
  return parsed.value
}

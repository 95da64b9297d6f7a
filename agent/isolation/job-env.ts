import { requestParameters } from '../executor/request-parameters.ts'

/**
 * Variables the job may see from the agent's own environment: what a shell needs to behave, never
 * the agent's configuration or secrets (`ZKRUNNER_RUNNER_KEY`, `ZKRUNNER_FEE_PAYER_KEY`, …).
 */
const HOST_VARIABLES = new Set(['PATH', 'LANG', 'LANGUAGE', 'TZ', 'TERM', 'HOME', 'USER', 'SHELL'])
const HOST_PREFIXES = ['LC_']

/** CI variables the job may see: GitLab's and GitHub's own, set by the provider for the job. */
const CI_VARIABLES = new Set(['CI', 'GITLAB_CI', 'GITHUB_ACTIONS'])
const CI_PREFIXES = ['CI_', 'GITLAB_', 'GITHUB_', 'RUNNER_']
/**
 * Credentials under a CI prefix that the provider never hands a `run:` step itself: GitHub gives
 * `GITHUB_TOKEN` to a step only when the workflow maps `secrets.GITHUB_TOKEN` into its `env:`, and
 * the runtime's `ACTIONS_RUNTIME_TOKEN` / `ACTIONS_ID_TOKEN_REQUEST_TOKEN` only to actions (no
 * `ACTIONS_*` prefix passes). A job's code runs on a user's parameters: it gets no token to push,
 * release or read secrets with.
 */
const CI_DENIED = new Set(['GITHUB_TOKEN'])

/** The job's identity the Worker passed: public values, useful to the job. */
const JOB_VARIABLES = new Set([
  'ZKRUNNER_JOB_ID',
  'ZKRUNNER_SERVICE',
  'ZKRUNNER_USER',
  'ZKRUNNER_JOB_NAME',
  'ZKRUNNER_SOURCE_COMMITMENT',
  'ZKRUNNER_VOUCHER',
  'ZKRUNNER_ARTIFACTS',
  'ZKRUNNER_PARAMETERS',
  // The declared outputs, so `zkrunner-agent output` can refuse a wrong one where it is written.
  'ZKRUNNER_OUTPUTS',
  // The versions above a driver job, so a `zkrunner-agent call` it makes carries them on.
  'ZKRUNNER_CALL_PATH',
])

/**
 * The job's parameters as the Worker passes them: one JSON object of name → value
 * (`ZKRUNNER_PARAMETERS={"LIMIT":"1000"}`); their names pass to the job.
 */
export const PARAMETERS_VARIABLE = 'ZKRUNNER_PARAMETERS'

const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/**
 * The environment a job runs with: an allow-list, never the agent's environment as a whole.
 * `host` is the agent's environment (only shell basics pass), `ci` the job's CI variables (in
 * executor mode GitLab's `CUSTOM_ENV_*` with the prefix stripped; in `run` mode the agent's own
 * environment, which is the calling job's). CI variables pass by the provider's prefixes, the
 * job's public `ZKRUNNER_*` identity passes by name, and the job's parameters pass when named in
 * `ZKRUNNER_PARAMETERS` or `parameters`. Anything else, above all every other `ZKRUNNER_*`
 * variable, stays with the agent.
 */
export function jobEnvironment(args: {
  host: NodeJS.ProcessEnv
  ci: NodeJS.ProcessEnv
  parameters?: readonly string[]
  /** Overrides for the job's user (HOME, USER) when it runs as another user. */
  overrides?: Record<string, string>
}): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(args.host))
    if (v !== undefined && (HOST_VARIABLES.has(k) || HOST_PREFIXES.some((p) => k.startsWith(p))))
      out[k] = v
  const parameters = new Set([
    ...(args.parameters ?? []),
    // Parsed and checked against the job's own variables once more (jobIdentity did it first).
    ...Object.keys(requestParameters((name) => args.ci[name])),
  ])
  for (const [k, v] of Object.entries(args.ci)) {
    if (v === undefined) continue
    const allowed =
      CI_VARIABLES.has(k) ||
      (CI_PREFIXES.some((p) => k.startsWith(p)) && !CI_DENIED.has(k)) ||
      JOB_VARIABLES.has(k) ||
      // A parameter never shadows the agent's namespace, whatever the list says.
      (parameters.has(k) && PARAMETER_NAME.test(k) && !k.startsWith('ZKRUNNER_'))
    if (allowed) out[k] = v
  }
  return { ...out, ...args.overrides }
}

/** `CUSTOM_ENV_*` variables of a custom-executor call, with the prefix stripped. */
export function customEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env))
    if (k.startsWith('CUSTOM_ENV_')) out[k.slice('CUSTOM_ENV_'.length)] = v
  return out
}

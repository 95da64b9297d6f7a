export { expandExpressions } from './expressions.ts'
export { runAsSelfHostedRunner, type SelfHostedRunner } from './runner.ts'
export { signatureOf, startGithubStandin } from './server.ts'
export type {
  Delivery,
  DispatchAnswer,
  Fault,
  Faults,
  GithubStandin,
  GithubStandinOptions,
  RunJobContext,
  RunJobOutcome,
  StandinRepo,
  StandinRun,
  StandinWorkflow,
} from './types.ts'
export { type ParsedWorkflow, parseWorkflow, type WorkflowStep } from './workflow.ts'

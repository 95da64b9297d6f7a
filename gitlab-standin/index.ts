export { startGitlabStandin } from './server.ts'
export type {
  Fault,
  Faults,
  GitlabStandin,
  GitlabStandinOptions,
  GitlabStatus,
  PipelineVariable,
  RunJobContext,
  RunJobOutcome,
  StandinJob,
  StandinPipeline,
  StandinProject,
} from './types.ts'

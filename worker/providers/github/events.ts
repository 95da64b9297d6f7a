import type { components } from '@octokit/openapi-webhooks-types'
import { z } from 'zod'

type Schemas = components['schemas']
/** GitHub's `workflow_run` payloads, from GitHub's own OpenAPI webhook schema. */
export type WorkflowRunPayload =
  | Schemas['webhook-workflow-run-requested']
  | Schemas['webhook-workflow-run-in-progress']
  | Schemas['webhook-workflow-run-completed']
/** GitHub's `workflow_job` payloads, from GitHub's own OpenAPI webhook schema. */
export type WorkflowJobPayload =
  | Schemas['webhook-workflow-job-queued']
  | Schemas['webhook-workflow-job-waiting']
  | Schemas['webhook-workflow-job-in-progress']
  | Schemas['webhook-workflow-job-completed']

type Run = WorkflowRunPayload['workflow_run']
/** Every field name any variant has (keyof a union is only the common ones). */
type KeysOf<T> = T extends unknown ? keyof T : never
type Job = WorkflowJobPayload['workflow_job']
type RunConclusion = NonNullable<Run['conclusion']>
type JobConclusion = NonNullable<Job['conclusion']>

/** zkrunner's job status (GitLab's vocabulary, which the payable rule reads) for each GitHub state. */
const RUN_STATUS: Record<Run['status'], string> = {
  requested: 'pending',
  queued: 'pending',
  pending: 'pending',
  waiting: 'waiting_for_resource',
  in_progress: 'running',
  // A completed run is mapped by its conclusion.
  completed: 'success',
}
const JOB_STATUS: Record<Job['status'], string> = {
  queued: 'pending',
  waiting: 'waiting_for_resource',
  in_progress: 'running',
  completed: 'success',
}
const CONCLUSION: Record<RunConclusion | JobConclusion, string> = {
  success: 'success',
  // Neutral is GitHub's "neither passed nor failed": the run did end.
  neutral: 'success',
  failure: 'failed',
  timed_out: 'failed',
  startup_failure: 'failed',
  cancelled: 'canceled',
  // A stale run was superseded before it ran; skipped never ran: neither is charged.
  stale: 'canceled',
  skipped: 'skipped',
  action_required: 'manual',
}

/** A GitHub status (and conclusion, once completed) as a zkrunner job status. */
export function statusOf(
  kind: 'run' | 'job',
  status: Run['status'] | Job['status'],
  conclusion: RunConclusion | JobConclusion | null,
): string {
  if (status === 'completed')
    return (conclusion === null ? undefined : CONCLUSION[conclusion]) ?? 'failed'
  return kind === 'run' ? RUN_STATUS[status as Run['status']] : JOB_STATUS[status as Job['status']]
}

// Runtime checks of the fields read, named from the types above: a field GitHub renames stops
// the build. Ids arrive as exact decimal strings (parseExactJson): run ids are 64-bit.
const decimalId = z.string().regex(/^\d{1,20}$/)
const runStatuses = Object.keys(RUN_STATUS) as [Run['status'], ...Run['status'][]]
const jobStatuses = Object.keys(JOB_STATUS) as [Job['status'], ...Job['status'][]]
const conclusions = Object.keys(CONCLUSION) as [RunConclusion, ...RunConclusion[]]

const RepositorySchema = z.object({
  id: decimalId,
  full_name: z.string().min(1).max(300),
} satisfies Partial<Record<keyof WorkflowRunPayload['repository'], z.ZodType>>)

/** The fields of a `workflow_run` delivery the Worker reads. */
export const WorkflowRunSchema = z.object({
  action: z.string().max(64),
  workflow_run: z.object({
    id: decimalId,
    // Runs from before run-names (older payloads) have none: not zkrunner's.
    display_title: z.string().max(1024).nullish(),
    status: z.enum(runStatuses),
    conclusion: z.enum(conclusions).nullable(),
    html_url: z.string().max(2048).nullish(),
    run_attempt: z.number().int().nonnegative().optional(),
  } satisfies Partial<Record<KeysOf<Run>, z.ZodType>>),
  repository: RepositorySchema,
} satisfies Partial<Record<keyof WorkflowRunPayload, z.ZodType>>)

/** The fields of a `workflow_job` delivery the Worker reads. */
export const WorkflowJobSchema = z.object({
  action: z.string().max(64),
  workflow_job: z.object({
    id: decimalId,
    run_id: decimalId,
    name: z.string().max(1024),
    status: z.enum(jobStatuses),
    conclusion: z.enum(conclusions).nullable(),
  } satisfies Partial<Record<KeysOf<Job>, z.ZodType>>),
  repository: RepositorySchema,
} satisfies Partial<Record<keyof WorkflowJobPayload, z.ZodType>>)

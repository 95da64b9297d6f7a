import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { components } from '@octokit/openapi-webhooks-types'
import type { StandinJob, StandinRepo, StandinRun } from './types.ts'

type Schemas = components['schemas']
export type WorkflowRunEvent =
  | Schemas['webhook-workflow-run-requested']
  | Schemas['webhook-workflow-run-in-progress']
  | Schemas['webhook-workflow-run-completed']
export type WorkflowJobEvent =
  | Schemas['webhook-workflow-job-queued']
  | Schemas['webhook-workflow-job-in-progress']
  | Schemas['webhook-workflow-job-completed']

interface ExampleSet {
  name: string
  examples: Record<string, unknown>[]
}

// GitHub's own example deliveries (@octokit/webhooks-examples) are the templates: every field a
// consumer may read is there, shaped as GitHub sends it; the stand-in rewrites names, URLs, ids
// and states. The types come from GitHub's webhook schema (@octokit/openapi-webhooks-types).
const require = createRequire(import.meta.url)
const examples = JSON.parse(
  readFileSync(require.resolve('@octokit/webhooks-examples/api.github.com/index.json'), 'utf8'),
) as ExampleSet[]

function template(event: string, action: string): string {
  const set = examples.find((e) => e.name === event)
  const example = set?.examples.find(
    (x) => x.action === action && JSON.stringify(x).includes('octo-org/octo-repo'),
  )
  if (!example) throw new Error(`no ${event}.${action} example in @octokit/webhooks-examples`)
  return JSON.stringify(example)
}
const TEMPLATES = {
  workflow_run: template('workflow_run', 'requested'),
  workflow_job: template('workflow_job', 'completed'),
}

/** The example's repository rewritten to the stand-in's (web and API URLs, names). */
function retarget(text: string, repo: StandinRepo, base: string): Record<string, unknown> {
  const full = `${repo.owner}/${repo.name}`
  const payload = JSON.parse(
    text
      .replaceAll('https://api.github.com/repos/octo-org/octo-repo', `${base}/repos/${full}`)
      .replaceAll('https://github.com/octo-org/octo-repo', `${base}/${full}`)
      .replaceAll('https://api.github.com', base)
      .replaceAll('https://github.com', base)
      .replaceAll('octo-org/octo-repo', full)
      .replaceAll('"octo-repo"', JSON.stringify(repo.name)),
  ) as Record<string, unknown>
  payload.repository = { ...(payload.repository as object), id: repo.id ?? 1 }
  return payload
}

const runAction = (run: StandinRun) =>
  run.status === 'queued' ? 'requested' : run.status === 'in_progress' ? 'in_progress' : 'completed'

/** A `workflow_run` delivery for the run's current state. */
export function workflowRunPayload(
  repo: StandinRepo,
  run: StandinRun,
  base: string,
): WorkflowRunEvent {
  const payload = retarget(TEMPLATES.workflow_run, repo, base)
  const api = `${base}/repos/${repo.owner}/${repo.name}`
  const template = payload.workflow_run as Record<string, unknown>
  payload.action = runAction(run)
  payload.workflow = {
    ...(payload.workflow as object),
    id: run.workflow_id,
    name: run.name,
    path: run.path,
    url: `${api}/actions/workflows/${run.workflow_id}`,
    html_url: `${base}/${repo.owner}/${repo.name}/blob/${run.head_branch}/${run.path}`,
  }
  payload.workflow_run = {
    ...template,
    ...runJson(repo, run, base),
    head_commit: { ...(template.head_commit as object), id: run.head_sha },
  }
  return payload as unknown as WorkflowRunEvent
}

/** A `workflow_job` delivery for the job's current state. */
export function workflowJobPayload(
  repo: StandinRepo,
  run: StandinRun,
  job: StandinJob,
  base: string,
  runnerName?: string,
): WorkflowJobEvent {
  const payload = retarget(TEMPLATES.workflow_job, repo, base)
  payload.action = job.status
  payload.workflow_job = {
    ...(payload.workflow_job as object),
    ...jobJson(repo, run, job, base, runnerName),
  }
  return payload as unknown as WorkflowJobEvent
}

/** A run as the REST API returns it (`GET /repos/{owner}/{repo}/actions/runs/{id}`). */
export function runJson(repo: StandinRepo, run: StandinRun, base: string) {
  const api = `${base}/repos/${repo.owner}/${repo.name}/actions/runs/${run.id}`
  return {
    id: run.id,
    name: run.name,
    node_id: `WFR_standin${run.id}`,
    head_branch: run.head_branch,
    head_sha: run.head_sha,
    path: run.path,
    display_title: run.display_title,
    run_number: run.run_number,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    workflow_id: run.workflow_id,
    check_suite_id: run.id + 1,
    url: api,
    html_url: `${base}/${repo.owner}/${repo.name}/actions/runs/${run.id}`,
    pull_requests: [],
    created_at: run.created_at,
    updated_at: run.updated_at,
    run_attempt: run.run_attempt,
    run_started_at: run.run_started_at,
    jobs_url: `${api}/jobs`,
    logs_url: `${api}/logs`,
    cancel_url: `${api}/cancel`,
    rerun_url: `${api}/rerun`,
    artifacts_url: `${api}/artifacts`,
    workflow_url: `${base}/repos/${repo.owner}/${repo.name}/actions/workflows/${run.workflow_id}`,
    previous_attempt_url: null,
    repository: {
      id: repo.id ?? 1,
      name: repo.name,
      full_name: `${repo.owner}/${repo.name}`,
      owner: { login: repo.owner },
      html_url: `${base}/${repo.owner}/${repo.name}`,
      url: `${base}/repos/${repo.owner}/${repo.name}`,
    },
  }
}

/** A job as the REST API returns it (`GET …/actions/runs/{id}/jobs`). */
export function jobJson(
  repo: StandinRepo,
  run: StandinRun,
  job: StandinJob,
  base: string,
  runnerName = 'zkrunner-standin',
) {
  const api = `${base}/repos/${repo.owner}/${repo.name}`
  return {
    id: job.id,
    run_id: run.id,
    run_url: `${api}/actions/runs/${run.id}`,
    run_attempt: run.run_attempt,
    node_id: `CR_standin${job.id}`,
    head_sha: run.head_sha,
    head_branch: run.head_branch,
    url: `${api}/actions/jobs/${job.id}`,
    html_url: `${base}/${repo.owner}/${repo.name}/actions/runs/${run.id}/job/${job.id}`,
    status: job.status,
    conclusion: job.conclusion,
    created_at: job.created_at,
    started_at: job.started_at ?? job.created_at,
    completed_at: job.completed_at,
    name: job.name,
    steps: [],
    check_run_url: `${api}/check-runs/${job.id}`,
    labels: ['self-hosted', 'zkrunner'],
    runner_id: job.started_at ? 1 : null,
    runner_name: job.started_at ? runnerName : null,
    runner_group_id: job.started_at ? 1 : null,
    runner_group_name: job.started_at ? 'Default' : null,
    workflow_name: run.name,
  }
}

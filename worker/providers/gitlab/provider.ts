import { SealedGitlabCredentialsSchema } from '../../../protocol/index.ts'
import { secretsEqual } from '../../secrets-equal.ts'
import type { Provider, ProviderContext, RunRef } from '../provider.ts'
import { JOB_ID_VARIABLE } from '../variables.ts'
import { GitlabClient, type GitlabPipeline } from './client.ts'
import { jobHookPointer } from './job-hook-pointer.ts'

/** A GitLab service's opened credentials (a bare string is a trigger token alone). */
export interface GitlabCredentials {
  triggerToken: string
  apiToken?: string
  webhookSecret?: string
}

const clientOf = (ctx: ProviderContext) =>
  new GitlabClient({
    baseUrl: ctx.config.gitlabUrl ?? ctx.descriptor.providerUrl,
    timeoutMs: ctx.config.gitlabTimeoutMs,
    ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
  })

const runOf = (pipeline: GitlabPipeline): RunRef => ({
  id: String(pipeline.id),
  projectId: typeof pipeline.project_id === 'number' ? pipeline.project_id : null,
  webUrl: pipeline.web_url ?? null,
})

/** GitLab: pipeline triggers with a trigger token, reconciled by the job-id pipeline variable. */
export const gitlab: Provider<GitlabCredentials> = {
  name: 'gitlab',
  title: 'GitLab',
  runNoun: 'pipeline',
  // The trigger answers with the pipeline it created: a listing is current at once.
  runListedWithinMs: 0,

  credentials(opened) {
    const parsed = SealedGitlabCredentialsSchema.safeParse(opened)
    if (!parsed.success) return null
    const c = parsed.data
    return typeof c === 'string' ? { triggerToken: c } : c
  },

  // GitLab takes any number of trigger variables within the request size the Worker already caps.
  variablesProblem: () => null,

  async trigger(ctx, credentials, _jobId, variables) {
    const outcome = await clientOf(ctx).triggerPipeline({
      project: ctx.descriptor.project,
      token: credentials.triggerToken,
      ref: ctx.descriptor.ref,
      variables,
    })
    return outcome.kind === 'created' ? { kind: 'created', run: runOf(outcome.pipeline) } : outcome
  },

  async reconcile(ctx, credentials, jobId, since) {
    if (!credentials.apiToken) return { kind: 'cannot' }
    const client = clientOf(ctx)
    const { project, ref } = ctx.descriptor
    const apiToken = credentials.apiToken
    const list = await client.listTriggeredPipelines({
      project,
      apiToken,
      ref,
      // Clocks differ: look back a minute before the first attempt.
      updatedAfter: new Date(since - 60_000),
    })
    if (!list.ok) return { kind: 'unreachable' }
    for (const pipeline of list.value) {
      const vars = await client.pipelineVariables({ project, apiToken, pipelineId: pipeline.id })
      if (!vars.ok) return { kind: 'unreachable' }
      if (vars.value.some((v) => v.key === JOB_ID_VARIABLE && v.value === jobId)) {
        return { kind: 'found', run: runOf(pipeline) }
      }
    }
    return { kind: 'none' }
  },

  async authenticate(credentials, evidence) {
    // A registration that sealed no webhook secret accepts no webhooks.
    const expected = credentials.webhookSecret
    return expected !== undefined && (await secretsEqual(evidence.secret, expected))
  },

  // Job Hooks name only project and pipeline: this pointer routes them to the job. Without a
  // webhook secret no hook authenticates, so none is routed.
  runPointer: (_descriptor, run, credentials) =>
    run.projectId === null || !credentials.webhookSecret
      ? null
      : jobHookPointer(credentials.webhookSecret, run.projectId, run.id),

  viewRunId: (id) => Number(id),
}

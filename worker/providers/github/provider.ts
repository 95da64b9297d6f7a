import {
  SealedGithubCredentialsSchema,
  type PublicServiceDescriptor as ServiceDescriptor,
} from '../../../protocol/index.ts'
import type { Provider, ProviderContext } from '../provider.ts'
import { GithubClient } from './client.ts'
import { inputsProblem } from './inputs.ts'
import { runNameOf } from './run-name.ts'
import { verifySignature } from './signature.ts'

/** A GitHub service's opened credentials. */
export interface GithubCredentials {
  /** Fine-grained token with Actions: write on the repository. */
  token: string
  /** Signs this service's webhook deliveries. */
  webhookSecret: string
}

/** The REST base of a descriptor's GitHub: api.github.com for github.com, `/api/v3` on Enterprise. */
export function githubApiUrl(descriptor: ServiceDescriptor, override?: string): string {
  if (override !== undefined) return override
  const url = new URL(descriptor.providerUrl)
  return url.origin === 'https://github.com'
    ? 'https://api.github.com'
    : `${url.origin}${url.pathname.replace(/\/+$/, '')}/api/v3`
}

const clientOf = (ctx: ProviderContext, credentials: GithubCredentials) =>
  new GithubClient({
    apiUrl: githubApiUrl(ctx.descriptor, ctx.config.githubApiUrl),
    token: credentials.token,
    timeoutMs: ctx.config.gitlabTimeoutMs,
    ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
  })

/** The descriptor's workflow file (the descriptor schema requires one for GitHub). */
const workflowOf = (descriptor: ServiceDescriptor): string => {
  if (descriptor.workflow === undefined) throw new Error('a GitHub descriptor without a workflow')
  return descriptor.workflow
}

/**
 * GitHub Actions: a workflow_dispatch with the job's variables as inputs, matched to its run by
 * the run-name carrying the job id; webhooks signed with the service's own secret.
 */
export const github: Provider<GithubCredentials> = {
  name: 'github',
  title: 'GitHub',
  runNoun: 'workflow run',
  // Dispatched runs appear in the list some seconds later.
  runListedWithinMs: 30_000,

  credentials(opened) {
    const parsed = SealedGithubCredentialsSchema.safeParse(opened)
    return parsed.success
      ? { token: parsed.data.token, webhookSecret: parsed.data.webhookSecret }
      : null
  },

  variablesProblem: inputsProblem,

  async trigger(ctx, credentials, _jobId, variables) {
    const outcome = await clientOf(ctx, credentials).dispatch({
      repository: ctx.descriptor.project,
      workflow: workflowOf(ctx.descriptor),
      ref: ctx.descriptor.ref,
      inputs: variables,
    })
    if (outcome.kind !== 'created') return outcome
    return {
      kind: 'created',
      run: { id: outcome.runId, projectId: null, webUrl: outcome.htmlUrl },
    }
  },

  async reconcile(ctx, credentials, jobId, since) {
    const list = await clientOf(ctx, credentials).listDispatchedRuns({
      repository: ctx.descriptor.project,
      workflow: workflowOf(ctx.descriptor),
      ref: ctx.descriptor.ref,
      // Clocks differ: look back a minute before the first attempt.
      createdAfter: new Date(since - 60_000),
    })
    if (!list.ok) return { kind: 'unreachable' }
    const title = runNameOf(jobId)
    const run = list.value.find((r) => r.display_title === title)
    return run
      ? {
          kind: 'found',
          run: { id: run.id, projectId: run.repository_id, webUrl: run.html_url },
        }
      : { kind: 'none' }
  },

  authenticate: (credentials, evidence) =>
    verifySignature(credentials.webhookSecret, evidence.body ?? '', evidence.secret),

  // workflow_job events carry the run id and repository, not the run-name.
  runPointer: (descriptor, run) => `github-run:${descriptor.project.toLowerCase()}:${run.id}`,

  // 64-bit: shown as the exact decimal string.
  viewRunId: (id) => id,
}

import type { PublicServiceDescriptor, ServiceDescriptor } from '../../protocol/index.ts'
import type { Config } from '../config.ts'

/** A CI provider's name, as the descriptor gives it. */
export type ProviderName = ServiceDescriptor['provider']

/** The run (GitLab pipeline, GitHub workflow run) a trigger created. */
export interface RunRef {
  /** The provider's run id as a decimal string: GitHub's are 64-bit, never a JS number. */
  id: string
  /** The provider's numeric project (repository) id, when it said. */
  projectId: number | null
  /** The provider's page of the run (checked by protocol's `runLink` before it is kept). */
  webUrl: string | null
}

/** What one trigger request came to. */
export type TriggerOutcome =
  /** The provider created the run and named it. */
  | { kind: 'created'; run: RunRef }
  /** The provider took the trigger but did not name the run (GitHub's 204): never send it again. */
  | { kind: 'dispatched' }
  /** The provider refused it (bad token, unknown project, bad inputs): no retry can help. */
  | { kind: 'rejected'; status: number }
  /** Rate limited: nothing was created; wait `retryAfterMs` if the provider said how long. */
  | { kind: 'rate-limited'; retryAfterMs: number | undefined }
  /** 5xx, timeout or network error: the run may or may not exist. */
  | { kind: 'ambiguous'; reason: string }

/** What looking for a trigger's run came to. */
export type ReconcileOutcome =
  | { kind: 'found'; run: RunRef }
  | { kind: 'none' }
  /** The provider did not answer: look again later, never trigger blindly. */
  | { kind: 'unreachable' }
  /** These credentials cannot look (GitLab without an API token): the webhook must settle it. */
  | { kind: 'cannot' }

/** Where a provider's calls go and how long they may take. */
export interface ProviderContext {
  /** Where the job runs: the descriptor, or for a private service the sealed coordinates in it. */
  descriptor: PublicServiceDescriptor
  config: Config
  fetch?: typeof fetch
}

/** A webhook delivery's proof of origin, as the provider's route extracted it (serialisable). */
export interface HookEvidence {
  /** GitLab: the X-Gitlab-Token. GitHub: the X-Hub-Signature-256 header. */
  secret: string
  /** GitHub: the raw body the signature covers; GitLab sends none. */
  body?: string
}

/**
 * One CI provider behind the Worker. `ServiceObject` runs the trigger loop, the webhook
 * bookkeeping and the charges; everything that differs between GitLab and GitHub is here, and a
 * third provider is one more folder under `providers/` implementing this.
 */
export interface Provider<C = unknown> {
  readonly name: ProviderName
  /** The provider's name in messages and history (`GitLab`). */
  readonly title: string
  /** What the provider calls a run, in history details (`pipeline`). */
  readonly runNoun: string
  /**
   * How long after a trigger its run may still be missing from the provider's list (GitHub
   * creates dispatched runs asynchronously): until then "no such run" is not believed, so a slow
   * listing is never read as "nothing was created" and triggered again.
   */
  readonly runListedWithinMs: number
  /** The sealed credentials as this provider reads them, or null when they are not its kind. */
  credentials(opened: unknown): C | null
  /** Why these trigger variables cannot be sent (provider limits), or null: checked at admission. */
  variablesProblem(variables: Record<string, string>): string | null
  /** Sends one trigger with `variables`; exactly one request, classified. */
  trigger(
    ctx: ProviderContext,
    credentials: C,
    jobId: string,
    variables: Record<string, string>,
  ): Promise<TriggerOutcome>
  /** Looks for the run carrying `jobId`, created no earlier than a minute before `since`. */
  reconcile(
    ctx: ProviderContext,
    credentials: C,
    jobId: string,
    since: number,
  ): Promise<ReconcileOutcome>
  /** Whether a webhook's evidence proves it came from this service's provider (constant time). */
  authenticate(credentials: C, evidence: HookEvidence): Promise<boolean>
  /**
   * Name of the JobIndex pointer that routes a run's later events (job-level) to this job, or
   * null. It must be a name no other service can claim first (the pointer is first-writer-wins).
   */
  runPointer(descriptor: PublicServiceDescriptor, run: RunRef, credentials: C): string | null
  /** A run id as GET /v1/jobs shows it (GitLab's pipeline ids stay numbers). */
  viewRunId(id: string): number | string
}

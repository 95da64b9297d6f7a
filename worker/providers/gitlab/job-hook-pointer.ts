import { sha256, toHex } from '../../../protocol/index.ts'

/**
 * The name of the JobIndex pointer that routes a GitLab Job Hook (which names only project and
 * pipeline) to its job. It holds a digest of the service's webhook secret: the pointer is written
 * first-writer-wins from a project id the Worker cannot check (a service named by path, or a
 * self-hosted GitLab answering its trigger), so without the secret in the name anyone with a
 * service of their own could claim another service's next pipelines and have its Job Hooks (its
 * `ci_quota_exceeded` refusals) fail that other service's secret. GitLab sends the secret with
 * every hook (X-Gitlab-Token), so the hook finds the same name.
 */
export function jobHookPointer(
  webhookSecret: string,
  projectId: number,
  pipelineId: number | string,
): string {
  const secret = toHex(sha256(new TextEncoder().encode(webhookSecret)))
  return `pipeline:${secret}:${projectId}:${pipelineId}`
}

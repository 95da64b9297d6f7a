import { RequestIdSchema } from '../../../protocol/index.ts'

/**
 * The run-name a zkrunner workflow gives its runs (`run-name: zkrunner ${{ inputs.ZKRUNNER_JOB_ID }}`).
 * GitHub shows it as the run's `display_title`, in the runs list and in every workflow_run
 * webhook: it is how a run is matched to its job when GitHub does not name the run it created.
 */
export const runNameOf = (jobId: string): string => `zkrunner ${jobId}`

/** The job id a run's display title carries, or null when it is not a zkrunner run. */
export function jobIdOfRunName(title: string): string | null {
  const match = /^zkrunner (\S+)$/.exec(title)
  if (!match) return null
  return RequestIdSchema.safeParse(match[1]).success ? match[1]! : null
}

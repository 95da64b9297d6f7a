/** GitHub's limits on a workflow_dispatch's inputs: more is a 422 after the request was counted. */
export const MAX_INPUTS = 25
export const MAX_INPUTS_CHARS = 65_535

/**
 * Why these trigger variables cannot be a dispatch's inputs, or null. Checked when the job is
 * admitted, before the voucher counts, so a request GitHub would refuse is refused here with a code.
 */
export function inputsProblem(inputs: Record<string, string>): string | null {
  const count = Object.keys(inputs).length
  if (count > MAX_INPUTS) {
    return `GitHub takes at most ${MAX_INPUTS} workflow inputs; this job has ${count}`
  }
  const chars = JSON.stringify(inputs).length
  if (chars > MAX_INPUTS_CHARS) {
    return `GitHub takes at most ${MAX_INPUTS_CHARS} characters of workflow inputs; this job has ${chars}`
  }
  return null
}

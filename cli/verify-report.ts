import type { ResultManifest } from '../protocol/index.ts'
import type { LinkStatus, OutputsSummary, VerificationLink } from '../verify/index.ts'

/** Exit statuses of `zkrunner verify`: scripts rely on them, so they never change meaning. */
export const VerifyExit = {
  /** Every link holds. */
  VERIFIED: 0,
  /** At least one link is broken: the result is not what it claims. */
  BROKEN: 1,
  /** Bad usage, a bad config, or an endpoint that did not answer: nothing was verified. */
  USAGE: 2,
  /** No link is broken, but some are not decided (not settled yet, no request given, node down). */
  INCOMPLETE: 3,
} as const

/** The verdict of a set of links, in words and as an exit status. */
export function verdictOf(links: readonly VerificationLink[]): {
  verdict: 'verified' | 'broken' | 'incomplete'
  exit: number
} {
  if (links.some((l) => l.status === 'broken'))
    return { verdict: 'broken', exit: VerifyExit.BROKEN }
  if (links.every((l) => l.status === 'ok'))
    return { verdict: 'verified', exit: VerifyExit.VERIFIED }
  return { verdict: 'incomplete', exit: VerifyExit.INCOMPLETE }
}

const MARK: Record<LinkStatus, string> = { ok: '✓', broken: '✗', pending: '–' }

/**
 * Every link on its own line, its mark, name and detail, then how the job ran (mode and command,
 * from the signed manifest) and which logs the runner cut at its cap, then the job's outputs (from the signed
 * manifest, so the manifest and signature links vouch for them), then the verdict.
 */
export function textReport(
  links: readonly VerificationLink[],
  outputs: OutputsSummary | null = null,
  ran: string | null = null,
  truncatedLogs: string | null = null,
): string {
  const lines = links.map((l) => `${MARK[l.status]} ${l.name}\n    ${l.detail}`)
  if (ran) lines.push(ran)
  if (truncatedLogs) lines.push(truncatedLogs)
  const { verdict } = verdictOf(links)
  if (outputs) {
    lines.push(
      `${verdict === 'broken' ? 'outputs NOT vouched for (a link is broken: anyone could have written them)' : 'outputs'}: ${outputs.valid ? 'valid' : 'INVALID'}; declaration ${outputs.declaration}; outputsDigest ${outputs.outputsDigest}`,
      ...outputs.values.map(
        (v) =>
          `    ${v.name} (${v.type}) = ${v.value === null ? '(not written)' : JSON.stringify(v.value)}`,
      ),
      ...outputs.problems.map((p) => `    problem: ${p}`),
    )
  }
  const broken = links.filter((l) => l.status === 'broken').map((l) => l.id)
  const open = links.filter((l) => l.status === 'pending').map((l) => l.id)
  lines.push(
    verdict === 'verified'
      ? 'verified: every link holds'
      : verdict === 'broken'
        ? `NOT verified: broken link${broken.length > 1 ? 's' : ''}: ${broken.join(', ')}`
        : `not fully verified: not decided: ${open.join(', ')}`,
  )
  return `${lines.join('\n')}\n`
}

/**
 * The machine-readable report (`--json`): the target, the verdict, every link, the job's
 * outputs (null when it has none) with their outputsDigest, how it ran (`ran`, null when the
 * manifest does not say) and the logs the runner cut at its cap (`truncatedLogs`, null when none). Under a broken verdict the outputs are not `outputs` but
 * `unverifiedOutputs`: a script that reads `.outputs` without checking the verdict never takes
 * values from a result anyone could have forged.
 */
export function jsonReport(
  target: { bundleCid: string; service: string; jobId?: string; requestId?: string },
  links: readonly VerificationLink[],
  outputs: OutputsSummary | null = null,
  ran: ResultManifest['ran'] | null = null,
  truncatedLogs: ResultManifest['truncatedLogs'] | null = null,
): string {
  const { verdict, exit } = verdictOf(links)
  const shown = verdict === 'broken' ? { outputs: null, unverifiedOutputs: outputs } : { outputs }
  return `${JSON.stringify({ ...target, verdict, exitCode: exit, links, ...shown, ran, truncatedLogs }, null, 2)}\n`
}

import type { ResultManifest } from '../../../protocol/index.ts'

/** What each mode means to a reader: who chose the command the runner signed. */
const MODE_TEXT: Record<NonNullable<ResultManifest['ran']>['mode'], string> = {
  executor: "GitLab Runner's custom executor ran the job's own script",
  run: "`zkrunner-agent run` ran a command the job's CI script chose",
  signer:
    "the runner's signer ran a command the job's own user chose, for the job the Worker and the provider said was running on that runner",
}

/** Longest command line shown; the manifest holds all of it. */
const MAX_SHOWN = 300

/**
 * How the job ran, in words, from its signed manifest (`ran`): its mode and command line. Null
 * for manifests from before the runner recorded it. Shared by the page and `zkrunner verify`.
 */
export function ranText(manifest: Pick<ResultManifest, 'ran'>): string | null {
  const { ran } = manifest
  if (!ran) return null
  const line = ran.command
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))
    .join(' ')
  const shown = line.length > MAX_SHOWN ? `${line.slice(0, MAX_SHOWN)}…` : line
  return `ran as ${ran.mode}: ${MODE_TEXT[ran.mode]}: ${shown}`
}

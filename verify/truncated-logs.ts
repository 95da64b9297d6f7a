import type { ResultManifest } from '../protocol/index.ts'

/**
 * The logs the runner cut at its cap, in words, from the signed manifest (`truncatedLogs`): one
 * line per log with the bytes kept and dropped. Null when no log was cut. Shared by the page and
 * `zkrunner verify`, which show it only when the manifest and its signature hold (`ranVouched`).
 */
export function truncatedLogsText(manifest: Pick<ResultManifest, 'truncatedLogs'>): string | null {
  const cut = manifest.truncatedLogs ?? []
  if (cut.length === 0) return null
  return cut
    .map(
      (t) =>
        `${t.file} truncated by the runner: the first ${t.keptBytes} bytes kept, ${t.droppedBytes} bytes of the job's output dropped after them`,
    )
    .join('\n')
}

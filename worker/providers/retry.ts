/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** Exponential backoff with full jitter, raised to `Retry-After` when the provider sent one, capped. */
export function backoffMs(
  attempt: number,
  retryAfterMs: number | undefined,
  options: { baseMs?: number; capMs?: number; random?: () => number } = {},
): number {
  const base = options.baseMs ?? 200
  const cap = options.capMs ?? 10_000
  const jittered = (options.random ?? Math.random)() * Math.min(cap, base * 2 ** attempt)
  return Math.min(cap, Math.max(jittered, retryAfterMs ?? 0))
}

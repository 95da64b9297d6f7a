/**
 * Which links to a CI provider zkrunner follows or shows. A pipeline URL arrives from a webhook or
 * a provider's answer and is rendered as an `href`, so a `javascript:` or foreign URL there runs
 * script or phishes in the page. One rule, used by the Worker and again by the page.
 */

// Loopback hosts only: plain http to them cannot cross a network.
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** Whether a URL is plain http to a loopback host (the local stack's GitLab stand-in). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK.has(url.hostname)
}

/**
 * Why a descriptor's `providerUrl` is refused, or null when it is acceptable: https, with no
 * credentials; plain http only to a loopback host and only when `allowLoopbackHttp` is set.
 */
export function providerUrlProblem(
  providerUrl: string,
  options: { allowLoopbackHttp: boolean },
): string | null {
  let url: URL
  try {
    url = new URL(providerUrl)
  } catch {
    return 'is not a URL'
  }
  if (url.username !== '' || url.password !== '') return 'must not carry credentials'
  if (url.protocol === 'https:') return null
  if (options.allowLoopbackHttp && isLoopbackHttp(url)) return null
  return options.allowLoopbackHttp
    ? 'must be https (or http to a loopback host)'
    : 'must be an https URL'
}

/**
 * The link, normalised, when it is a URL on the provider's own origin with the provider's scheme
 * (https, or loopback http for a loopback provider); else null. Never throws.
 */
export function providerLink(link: string, providerUrl: string): string | null {
  let url: URL
  let provider: URL
  try {
    url = new URL(link)
    provider = new URL(providerUrl)
  } catch {
    return null
  }
  if (url.protocol !== 'https:' && !(isLoopbackHttp(url) && isLoopbackHttp(provider))) return null
  if (url.origin !== provider.origin) return null
  if (url.username !== '' || url.password !== '') return null
  return url.href
}

/**
 * The link to a job's run, when it is the descriptor's own: `providerLink`, and for GitHub also a
 * path under the repository's runs (`/{owner}/{repo}/actions/runs/…`), so a link on github.com to
 * anything else (another repository, a user page) is not shown as the job's run.
 */
export function runLink(
  link: string,
  descriptor: { provider: 'gitlab' | 'github'; providerUrl: string; project: string },
): string | null {
  const kept = providerLink(link, descriptor.providerUrl)
  if (kept === null || descriptor.provider !== 'github') return kept
  const prefix = `/${descriptor.project}/actions/runs/`.toLowerCase()
  return new URL(kept).pathname.toLowerCase().startsWith(prefix) ? kept : null
}

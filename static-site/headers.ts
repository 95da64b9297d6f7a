/**
 * The headers every host of the page sends: one definition for the build's `_headers` file
 * (Cloudflare Pages, Netlify), Vite's dev and preview servers (the local stack) and the tests.
 */

/**
 * o1js (deposits, results roots) needs a cross-origin isolated page for SharedArrayBuffer.
 * `credentialless` lets the page fetch the Worker, Mina and gateways cross-origin without each of
 * them sending CORP headers.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'credentialless',
}

/**
 * The prover worker's script, the one response whose policy allows `'unsafe-eval'`: built as
 * `assets/prover-worker-<hash>.js` (vite.config.ts names it), served from its source by Vite's
 * dev server. The blob workers it starts inherit its policy.
 */
export const PROVER_WORKER_BUILT = '/assets/prover-worker-*.js'
const PROVER_WORKER_PATH =
  /^\/(?:.*\/)?(?:assets\/prover-worker-[\w-]+\.js|src\/prover\/prover-worker\.ts)$/

/** Whether a request path (no query) is the prover worker's script. */
export function isProverWorkerScript(path: string): boolean {
  return PROVER_WORKER_PATH.test(path)
}

/**
 * A strict Content-Security-Policy: scripts only from the page's own origin, never framed.
 * - `'wasm-unsafe-eval'`: o1js compiles its WebAssembly prover;
 * - `'unsafe-eval'`, for the prover worker only (`worker: true`): o1js 2.15's web build ships its
 *   js_of_ocaml bindings (o1js_web.bc.js) as a string and starts them with `new Function(H1)()`
 *   in dist/web/index.js, and wasm-bindgen's glue calls `new Function(...)` for globalThis.
 *   o1js runs only in the prover worker (prover/prover-worker.ts), and a dedicated worker runs
 *   under the policy of its own script's response, so the document's policy leaves it out: the
 *   page itself cannot eval a string, whoever put it there. No inline script is allowed either;
 * - `blob:` workers: o1js starts its thread pool from blob URLs;
 * - `connect-src https:`: the Worker, Mina and gateways are whatever `config.json` names. With
 *   `loopback`, plain http and ws to loopback hosts too (the local stack and Vite's dev server).
 */
export function contentSecurityPolicy(options: { loopback: boolean; worker?: boolean }): string {
  const loopback = options.loopback
    ? ' http://127.0.0.1:* http://localhost:* ws://127.0.0.1:* ws://localhost:*'
    : ''
  const evaluation = options.worker ? " 'unsafe-eval'" : ''
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval'${evaluation} blob:`,
    "worker-src 'self' blob:",
    `connect-src 'self' https:${loopback}`,
    "img-src 'self' data: blob:",
    // Styles set by script (the plot, Vite's dev CSS) are inline; they cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/** Every header the page is served with; `path` picks the prover worker's policy for its script. */
export function pageHeaders(options: { loopback: boolean; path?: string }): Record<string, string> {
  const worker = options.path !== undefined && isProverWorkerScript(options.path)
  return {
    ...ISOLATION_HEADERS,
    'Content-Security-Policy': contentSecurityPolicy({ loopback: options.loopback, worker }),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  }
}

/**
 * The `_headers` file of static hosts (Cloudflare Pages syntax): every path gets the document's
 * production policy; the prover worker's script detaches it (`! Content-Security-Policy`) and
 * gets the worker's. Hosts join the values of a header two matching rules set, and two policies
 * both apply, so without the detach the worker could not eval either.
 */
export function headersFile(): string {
  const lines = Object.entries(pageHeaders({ loopback: false })).map(([k, v]) => `  ${k}: ${v}`)
  const worker = contentSecurityPolicy({ loopback: false, worker: true })
  return [
    '/*',
    ...lines,
    '',
    PROVER_WORKER_BUILT,
    '  ! Content-Security-Policy',
    `  Content-Security-Policy: ${worker}`,
    '',
  ].join('\n')
}

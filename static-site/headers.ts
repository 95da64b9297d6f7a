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
 * A strict Content-Security-Policy: scripts only from the page's own origin, never framed.
 * - `'wasm-unsafe-eval'`: o1js compiles its WebAssembly prover;
 * - `'unsafe-eval'`: `'wasm-unsafe-eval'` alone does not suffice. o1js 2.15's web build ships its
 *   js_of_ocaml bindings (o1js_web.bc.js) as a string and starts them with `new Function(H1)()`
 *   in dist/web/index.js, and wasm-bindgen's glue calls `new Function(...)` for globalThis. o1js
 *   runs only in the prover worker (prover/prover-worker.ts), so the tightening left is a policy
 *   per response: the document without 'unsafe-eval', the worker script (and the blob workers it
 *   starts, which inherit its policy) with it; not done, as static hosts merge `_headers` rules
 *   differently. No inline script is allowed, so a string injected into the DOM still cannot run;
 * - `blob:` workers: o1js starts its thread pool from blob URLs;
 * - `connect-src https:`: the Worker, Mina and gateways are whatever `config.json` names. With
 *   `loopback`, plain http and ws to loopback hosts too (the local stack and Vite's dev server).
 */
export function contentSecurityPolicy(options: { loopback: boolean }): string {
  const loopback = options.loopback
    ? ' http://127.0.0.1:* http://localhost:* ws://127.0.0.1:* ws://localhost:*'
    : ''
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' blob:",
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

/** Every header the page is served with. */
export function pageHeaders(options: { loopback: boolean }): Record<string, string> {
  return {
    ...ISOLATION_HEADERS,
    'Content-Security-Policy': contentSecurityPolicy(options),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  }
}

/** The `_headers` file of static hosts (Cloudflare Pages, Netlify): every path, production policy. */
export function headersFile(): string {
  const lines = Object.entries(pageHeaders({ loopback: false })).map(([k, v]) => `  ${k}: ${v}`)
  return `/*\n${lines.join('\n')}\n`
}

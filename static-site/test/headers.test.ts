import { describe, expect, it } from 'vitest'
import {
  contentSecurityPolicy,
  headersFile,
  isProverWorkerScript,
  pageHeaders,
} from '../headers.ts'

describe("the page's headers", () => {
  it('the static host file sends a strict CSP that forbids framing and inline script', () => {
    const file = headersFile()
    expect(file.startsWith('/*\n')).toBe(true)
    expect(file).toContain('Cross-Origin-Embedder-Policy: credentialless')
    const csp = /Content-Security-Policy: (.*)/.exec(file)?.[1] ?? ''
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain("object-src 'none'")
    expect(csp).not.toContain("'unsafe-inline' blob")
    expect(/script-src [^;]*'unsafe-inline'/.test(csp)).toBe(false)
    // Production never allows plain http or loopback connections.
    expect(csp).not.toContain('127.0.0.1')
    expect(csp).not.toContain('http:')
  })

  it("only the prover worker's script may eval: its own rule detaches the document's policy", () => {
    const file = headersFile()
    const [doc, worker] = file.split('\n\n')
    expect(doc).toMatch(/^\/\*\n/)
    expect(doc).not.toContain("'unsafe-eval'")
    expect(worker).toMatch(/^\/assets\/prover-worker-\*\.js\n {2}! Content-Security-Policy\n/)
    expect(worker).toContain("script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' blob:")
    expect(worker).toContain("frame-ancestors 'none'")
    for (const path of ['/', '/index.html', '/assets/index-abc.js', '/assets/prover-worker.js/x'])
      expect(pageHeaders({ loopback: true, path })['Content-Security-Policy'], path).not.toContain(
        "'unsafe-eval'",
      )
    for (const path of ['/assets/prover-worker-B1x_9.js', '/src/prover/prover-worker.ts'])
      expect(isProverWorkerScript(path), path).toBe(true)
  })

  it('only the local variant allows loopback http', () => {
    expect(contentSecurityPolicy({ loopback: true })).toContain('http://127.0.0.1:*')
  })
})

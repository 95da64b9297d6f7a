import { describe, expect, it } from 'vitest'
import { contentSecurityPolicy, headersFile } from '../headers.ts'

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

  it('only the local variant allows loopback http', () => {
    expect(contentSecurityPolicy({ loopback: true })).toContain('http://127.0.0.1:*')
  })
})

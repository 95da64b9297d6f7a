import { describe, expect, test } from 'vitest'
import { providerLink, providerUrlProblem } from './provider-link.ts'

describe('providerLink', () => {
  const provider = 'https://gitlab.example.com'
  test.each([
    'javascript:alert(1)',
    'JavaScript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'http://gitlab.example.com/p/-/pipelines/1',
    'https://gitlab.example.com.evil.net/p',
    'https://evil.net/p',
    'https://u:p@gitlab.example.com/p',
    '//gitlab.example.com/p',
    'not a url',
  ])('refuses %s', (link) => {
    expect(providerLink(link, provider)).toBeNull()
  })

  test('keeps https on the provider origin', () => {
    expect(providerLink('https://gitlab.example.com/g/p/-/pipelines/7', provider)).toBe(
      'https://gitlab.example.com/g/p/-/pipelines/7',
    )
  })

  test('keeps loopback http only for a loopback provider', () => {
    expect(providerLink('http://127.0.0.1:8929/p/-/pipelines/1', 'http://127.0.0.1:8929')).toBe(
      'http://127.0.0.1:8929/p/-/pipelines/1',
    )
    expect(providerLink('http://127.0.0.1:8929/p', 'https://127.0.0.1:8929')).toBeNull()
  })
})

describe('providerUrlProblem', () => {
  test('https always; loopback http only with the dev allowance', () => {
    expect(providerUrlProblem('https://gitlab.com', { allowLoopbackHttp: false })).toBeNull()
    expect(providerUrlProblem('http://127.0.0.1:8929', { allowLoopbackHttp: false })).not.toBeNull()
    expect(providerUrlProblem('http://127.0.0.1:8929', { allowLoopbackHttp: true })).toBeNull()
    expect(providerUrlProblem('http://gitlab.com', { allowLoopbackHttp: true })).not.toBeNull()
    expect(
      providerUrlProblem('https://u:p@gitlab.com', { allowLoopbackHttp: false }),
    ).not.toBeNull()
  })
})

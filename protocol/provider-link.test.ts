import { describe, expect, test } from 'vitest'
import { providerLink, providerUrlProblem, runLink } from './provider-link.ts'

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

describe('runLink', () => {
  const github = { provider: 'github', providerUrl: 'https://github.com', project: 'o/r' } as const
  test('keeps a GitHub run of the descriptor repository', () => {
    expect(runLink('https://github.com/o/r/actions/runs/30433642', github)).toBe(
      'https://github.com/o/r/actions/runs/30433642',
    )
  })
  test.each([
    'http://github.com/o/r/actions/runs/1',
    'https://github.com.evil.net/o/r/actions/runs/1',
    'https://gist.github.com/o/r/actions/runs/1',
    'https://github.com/o/other/actions/runs/1',
    'https://github.com/o/r/settings',
    'https://github.com/o/r-evil/actions/runs/1',
    'javascript:alert(1)',
  ])('refuses %s for a GitHub run', (link) => {
    expect(runLink(link, github)).toBeNull()
  })
  test('a GitLab run keeps providerLink rule', () => {
    const gitlab = {
      provider: 'gitlab',
      providerUrl: 'https://gitlab.example.com',
      project: '7',
    } as const
    expect(runLink('https://gitlab.example.com/g/p/-/pipelines/7', gitlab)).not.toBeNull()
    expect(runLink('https://evil.net/g/p/-/pipelines/7', gitlab)).toBeNull()
  })
})

import { describe, expect, it } from 'vitest'
import {
  generateHpkeKeyPair,
  generateMinaKeyPair,
  openJson,
  type PrivateCoordinates,
  SealedGithubCredentialsSchema,
  SealedGitlabCredentialsSchema,
  type ServiceDescriptor,
  TRIGGER_TOKEN_INFO,
} from '../protocol/index.ts'
import { RegistrationError, registerWithWorker } from './register.ts'

// What the Worker opens must be the sealed shape of the descriptor's provider: a GitHub service's
// token and webhook secret, never GitLab's trigger-token shape (the Worker would refuse it).

async function registered(
  provider: 'gitlab' | 'github',
  webhookSecret?: string,
  coordinates?: PrivateCoordinates,
) {
  const worker = await generateHpkeKeyPair()
  const runner = generateMinaKeyPair()
  const descriptor: ServiceDescriptor = {
    v: 1,
    name: 'sample',
    description: '',
    ...(provider === 'github'
      ? {
          provider: 'github' as const,
          providerUrl: 'https://github.com',
          project: 'o/r',
          workflow: 'zkrunner.yml',
        }
      : { provider: 'gitlab' as const, providerUrl: 'https://gitlab.com', project: '7' }),
    ref: 'main',
    job: 'test',
    sourceCommitment: 'a'.repeat(40),
    pricePerJob: '10',
    runnerPublicKey: runner.publicKey,
    workerPublicKey: worker.publicKey,
    parameters: [],
  }
  let posted: unknown
  const fakeFetch = (async (_url: unknown, init?: RequestInit) => {
    posted = JSON.parse(String(init?.body))
    return new Response('{"registeredAt":"now"}', {
      status: 201,
      headers: { 'content-type': 'application/json' },
    })
  }) as typeof fetch
  await registerWithWorker(
    {
      workerUrl: 'https://worker.example',
      service: generateMinaKeyPair().publicKey,
      descriptor,
      descriptorCid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
      credentials: {
        triggerToken: 'github_pat_0123456789',
        apiToken: 'glpat-read',
        ...(webhookSecret ? { webhookSecret } : {}),
        ...(coordinates ? { coordinates } : {}),
      },
      runnerPrivateKey: runner.privateKey,
    },
    fakeFetch,
  )
  const registration = posted as { triggerToken: Parameters<typeof openJson>[1] }
  const opened = await openJson([worker], registration.triggerToken, TRIGGER_TOKEN_INFO)
  if (!opened.ok) throw opened.error
  return { opened: opened.value }
}

describe('registerWithWorker', () => {
  it("seals a GitHub service's token and webhook secret in GitHub's shape", async () => {
    const { opened } = await registered('github', 'whsec-0123456789abcdef')
    expect(SealedGithubCredentialsSchema.parse(opened)).toEqual({
      v: 1,
      provider: 'github',
      token: 'github_pat_0123456789',
      webhookSecret: 'whsec-0123456789abcdef',
    })
  })

  it("keeps GitLab's shape for a GitLab service", async () => {
    const { opened } = await registered('gitlab', 'whsec-0123456789abcdef')
    expect(opened).toEqual({
      v: 1,
      triggerToken: 'github_pat_0123456789',
      apiToken: 'glpat-read',
      webhookSecret: 'whsec-0123456789abcdef',
    })
  })

  // A private service's coordinates travel only here: dropping them in either shape would leave
  // the Worker refusing the registration (a private service seals its coordinates).
  it("seals a private service's coordinates in either provider's shape", async () => {
    const where = {
      providerUrl: 'https://example.com',
      project: 'acme/private',
      ref: 'main',
      job: 'test',
      salt: 'ab'.repeat(31),
      commit: 'c'.repeat(40),
    }
    const github = await registered('github', 'whsec-0123456789abcdef', {
      ...where,
      workflow: 'zkrunner.yml',
    })
    expect(SealedGithubCredentialsSchema.parse(github.opened).coordinates).toEqual({
      ...where,
      workflow: 'zkrunner.yml',
    })
    const gitlab = await registered('gitlab', 'whsec-0123456789abcdef', where)
    const sealed = SealedGitlabCredentialsSchema.parse(gitlab.opened)
    expect(typeof sealed === 'string' ? null : sealed.coordinates).toEqual(where)
  })

  it('refuses a GitHub service without its webhook secret, before anything is sent', async () => {
    await expect(registered('github')).rejects.toBeInstanceOf(RegistrationError)
  })
})

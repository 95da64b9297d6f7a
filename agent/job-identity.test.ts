import { describe, expect, it } from 'vitest'
import { generateMinaKeyPair, newRequestId, privateCommitment } from '../protocol/index.ts'
import { loadConfig } from './config.ts'
import { jobIdentity } from './job-identity.ts'

// A private service's commitment hides the commit: the agent checks the checkout against it with
// the opening from its own config, never from the job's variables.

const opening = {
  salt: '2b'.repeat(31),
  providerUrl: 'https://gitlab.example.com',
  project: 'acme/secret',
}
const ran = '3f786850e387550fdab836ed7e6dc881de23001b'
const commitment = privateCommitment({ ...opening, commit: ran })
const vars = {
  ZKRUNNER_JOB_ID: newRequestId(),
  ZKRUNNER_SERVICE: generateMinaKeyPair().publicKey,
  ZKRUNNER_USER: generateMinaKeyPair().publicKey,
  ZKRUNNER_SOURCE_COMMITMENT: commitment,
}
const checkout = (commit: string) => ({ commit, tree: 'e'.repeat(40) })

describe('jobIdentity with a private commitment', () => {
  it('runs a checkout that opens the commitment with one of the privateSources', () => {
    const id = jobIdentity(vars, '/tmp', {
      checkout: checkout(ran),
      privateSources: [{ ...opening, project: 'acme/other' }, opening],
    })
    expect(id.mismatch).toBeUndefined()
    expect(id.meta.sourceCommitment).toBe(commitment)
  })

  it('refuses another commit, and any commit when the agent has no opening', () => {
    const other = jobIdentity(vars, '/tmp', {
      checkout: checkout('a'.repeat(40)),
      privateSources: [opening],
    })
    expect(other.mismatch).toEqual({ commitment, ran: 'a'.repeat(40) })
    expect(jobIdentity(vars, '/tmp', { checkout: checkout(ran) }).mismatch).toBeDefined()
  })

  it('reads privateSources from the environment as JSON and refuses a bad one', () => {
    const env = { ZKRUNNER_DATA_DIR: '/tmp/x' }
    expect(
      loadConfig({}, { ...env, ZKRUNNER_PRIVATE_SOURCES: JSON.stringify([opening]) })
        .privateSources,
    ).toEqual([opening])
    expect(() => loadConfig({}, { ...env, ZKRUNNER_PRIVATE_SOURCES: '[{"salt":"xx"}]' })).toThrow(
      /privateSources/,
    )
  })
})

describe('jobIdentity of a driver call', () => {
  it('keeps the call path the Worker passed, for the manifest digest; refuses a malformed one', () => {
    const above = [generateMinaKeyPair().publicKey, generateMinaKeyPair().publicKey]
    const plain = { ...vars, ZKRUNNER_SOURCE_COMMITMENT: ran }
    const id = jobIdentity({ ...plain, ZKRUNNER_CALL_PATH: JSON.stringify(above) }, '/tmp', {
      checkout: checkout(ran),
    })
    expect(id.meta.callPath).toEqual(above)
    expect(jobIdentity(plain, '/tmp', { checkout: checkout(ran) }).meta.callPath).toBeUndefined()
    expect(() =>
      jobIdentity({ ...plain, ZKRUNNER_CALL_PATH: '["nobody"]' }, '/tmp', {
        checkout: checkout(ran),
      }),
    ).toThrow(/ZKRUNNER_CALL_PATH/)
  })
})

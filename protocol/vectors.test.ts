import { readFileSync } from 'node:fs'
import { Field, Poseidon, PublicKey, Signature } from 'o1js'
import { expect, test } from 'vitest'
import { computeVectors } from './vectors/compute.ts'
import { keys } from './vectors/inputs.ts'

const committed = JSON.parse(
  readFileSync(new URL('./vectors/vectors.json', import.meta.url), 'utf8'),
)

test('the committed test vectors are what the code computes', async () => {
  expect(await computeVectors()).toEqual(committed)
})

test('the vector signatures verify in o1js against the vector messages', () => {
  const check = (sig: string, pk: string, msg: string[]) =>
    Signature.fromBase58(sig)
      .verify(
        PublicKey.fromBase58(pk),
        msg.map((m) => Field(m)),
      )
      .toBoolean()
  expect(check(committed.voucher.signature, keys.user.publicKey, committed.voucher.message)).toBe(
    true,
  )
  expect(
    check(committed.manifest.signature, keys.runner.publicKey, committed.manifest.message),
  ).toBe(true)
  expect(check(committed.settle.signature, keys.runner.publicKey, committed.settle.message)).toBe(
    true,
  )
})

test('the vector public key fields are o1js PublicKey.toFields()', () => {
  expect(PublicKey.fromBase58(keys.user.publicKey).toFields().map(String)).toEqual(
    committed.publicKeys.user,
  )
})

test('the private source commitment vector is o1js Poseidon.hashWithPrefix of its input', () => {
  const v = committed.sourceCommitment
  expect(
    Poseidon.hashWithPrefix(
      v.prefix,
      v.input.map((x: string) => Field(x)),
    ).toString(),
  ).toBe(v.field)
})

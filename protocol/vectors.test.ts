import { readFileSync } from 'node:fs'
import { Bool, Field, Poseidon, PublicKey, Signature, UInt64 } from 'o1js'
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

test('the outputs digest is o1js Poseidon.hashWithPrefix over the output fields', () => {
  const o = committed.outputs
  const digest = (fields: string[]) =>
    Poseidon.hashWithPrefix(
      o.prefix,
      fields.map((f) => Field(f)),
    ).toString()
  expect(digest(o.fields)).toBe(o.digest)
  expect(digest(o.invalid.fields)).toBe(o.invalid.digest)
  expect(digest(['1'])).toBe(o.none)
  // Each type as an o1js circuit value reads it: u64 as UInt64, boolean as Bool.
  const [valid, primesPresent, primes, passedPresent, passed] = o.fields as string[]
  expect([valid, primesPresent, passedPresent]).toEqual(['1', '1', '1'])
  expect(UInt64.from(78498n).value.toString()).toBe(primes)
  expect(Bool(true).toField().toString()).toBe(passed)
  // A string's three chunks each fit in 31 bytes, and its length is its UTF-8 byte length.
  const label = o.written.at(-1).value as string
  const [len, ...chunks] = (o.fields as string[]).slice(-4)
  expect(Number(len)).toBe(new TextEncoder().encode(label).length)
  for (const c of chunks) expect(BigInt(c) < 1n << 248n).toBe(true)
  expect(o.invalid.fields[0]).toBe('0')
})

test("a manifest's `ran` (mode and command) is part of the signed bytes and parses back", async () => {
  const { parseManifestBytes } = await import('./index.ts')
  const r = committed.ran
  const parsed = parseManifestBytes(new TextEncoder().encode(r.manifest.canonical))
  expect(parsed.ok && parsed.value.ran).toEqual(r.value)
  expect(r.manifest.digest).not.toBe(committed.manifest.digest)
})

import { Field, PrivateKey, PublicKey, Signature } from 'o1js'
import { describe, expect, test } from 'vitest'
import { publicKeyToFields } from './mina-key.ts'
import { generateMinaKeyPair, publicKeyOf, signFields, verifyFields } from './signature.ts'

const message = [1n, 2n, 123456789012345678901234567890n, 0n]

describe('mina-signer and o1js agree', () => {
  test('public key fields equal o1js PublicKey.toFields()', () => {
    for (let i = 0; i < 8; i++) {
      const { publicKey } = generateMinaKeyPair()
      const fields = publicKeyToFields(publicKey)
      expect(fields.ok && fields.value.map(String)).toEqual(
        PublicKey.fromBase58(publicKey)
          .toFields()
          .map((f) => f.toString()),
      )
    }
  })

  test('a mina-signer signature verifies with o1js Signature.verify', () => {
    const { publicKey, privateKey } = generateMinaKeyPair()
    const sig = Signature.fromBase58(signFields(message, privateKey))
    const pk = PublicKey.fromBase58(publicKey)
    expect(
      sig
        .verify(
          pk,
          message.map((m) => Field(m)),
        )
        .toBoolean(),
    ).toBe(true)
    expect(sig.verify(pk, [Field(9), ...message.slice(1).map((m) => Field(m))]).toBoolean()).toBe(
      false,
    )
  })

  test('an o1js signature verifies with mina-signer', () => {
    const sk = PrivateKey.random()
    const sig = Signature.create(
      sk,
      message.map((m) => Field(m)),
    ).toBase58()
    expect(verifyFields(message, sig, sk.toPublicKey().toBase58()).ok).toBe(true)
    expect(publicKeyOf(sk.toBase58())).toEqual({ ok: true, value: sk.toPublicKey().toBase58() })
  })
})

describe('bad signatures are results, not exceptions', () => {
  const { publicKey, privateKey } = generateMinaKeyPair()
  const sig = signFields(message, privateKey)

  test('another message', () => {
    const r = verifyFields([...message, 1n], sig, publicKey)
    expect(!r.ok && r.error.code).toBe('BAD_SIGNATURE')
  })
  test('another key', () => {
    const r = verifyFields(message, sig, generateMinaKeyPair().publicKey)
    expect(!r.ok && r.error.code).toBe('BAD_SIGNATURE')
  })
  test('garbage signature', () => {
    const r = verifyFields(message, '7mXGarbage', publicKey)
    expect(!r.ok && r.error.code).toBe('BAD_SIGNATURE')
  })
  test('malformed public key', () => {
    const r = verifyFields(message, sig, 'B62notakey')
    expect(!r.ok && r.error.code).toBe('INVALID_KEY')
  })
  test('malformed private key', () => {
    const r = publicKeyOf('EKnotakey')
    expect(!r.ok && r.error.code).toBe('INVALID_KEY')
  })
  test('fields beyond the modulus cannot be signed', () => {
    expect(() => signFields([1n << 255n], privateKey)).toThrow(RangeError)
  })
})

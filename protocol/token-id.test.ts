import { PublicKey, TokenId } from 'o1js'
import { describe, expect, test } from 'vitest'
import { generateMinaKeyPair } from './signature.ts'
import { receiptTokenIdOf } from './token-id.ts'

describe('receipt token id', () => {
  test('equals o1js TokenId.toBase58(TokenId.derive(service))', () => {
    for (let i = 0; i < 8; i++) {
      const { publicKey } = generateMinaKeyPair()
      const derived = receiptTokenIdOf(publicKey)
      expect(derived.ok && derived.value).toBe(
        TokenId.toBase58(TokenId.derive(PublicKey.fromBase58(publicKey))),
      )
    }
  })

  test('a malformed address is refused, not hashed', () => {
    const derived = receiptTokenIdOf('B62qnot-an-address')
    expect(derived.ok).toBe(false)
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { Poseidon as ReferencePoseidon } from '../node_modules/mina-signer/dist/node/bindings/crypto/poseidon.js'
// mina-signer's internals, read by path: its package exports only the client.
import { hashWithPrefix as referenceHashWithPrefix } from '../node_modules/mina-signer/dist/node/mina-signer/src/poseidon-bigint.js'
import { SIGNATURE_PREFIX } from './field-signature.ts'
import { FIELD_MODULUS } from './mina-key.ts'
import { poseidonHashWithPrefix, poseidonUpdate } from './poseidon.ts'
import { poseidonWasmBytes } from './poseidon-wasm-bytes.ts'
import { signFields, verifyFields } from './signature.ts'
import { randomField } from './test-support/field-signer.ts'
import { keys } from './vectors/inputs.ts'

// The WebAssembly permutation against mina-signer's bigint Poseidon (the reference, as in
// field-signature.test.ts): random states, every edge value in every position, inputs at and past
// the modulus. Any difference fails.

const p = FIELD_MODULUS
const EDGES = [0n, 1n, 2n, p - 2n, p - 1n, 1n << 128n, (1n << 254n) - 1n, p >> 1n]
const reference = (state: readonly bigint[], input: readonly bigint[]) =>
  ReferencePoseidon.update([...state], [...input])

test('the committed poseidon.wasm is the module poseidon-wasm-bytes.ts writes', () => {
  // The Worker imports the file; Node and the page compile the bytes: they must be one module.
  const committed = readFileSync(new URL('./poseidon.wasm', import.meta.url))
  expect(Buffer.from(poseidonWasmBytes()).equals(committed)).toBe(true)
  // The page compiles it synchronously (poseidon-wasm-module.ts), which browsers have refused on
  // the main thread above 4 KB.
  expect(committed.length).toBeLessThanOrEqual(4096)
})

describe('the permutation equals mina-signer’s', () => {
  test('on 300 random states', () => {
    for (let i = 0; i < 300; i++) {
      const state = [randomField(), randomField(), randomField()] as const
      expect(poseidonUpdate(state, []), state.join(',')).toEqual(reference(state, []))
    }
  })

  test('on every edge value in every position, with random and edge neighbours', () => {
    for (const edge of EDGES) {
      for (let at = 0; at < 3; at++) {
        for (const other of [0n, p - 1n, randomField()]) {
          const state = [other, other, other]
          state[at] = edge
          const s = state as unknown as readonly [bigint, bigint, bigint]
          expect(poseidonUpdate(s, []), state.join(',')).toEqual(reference(state, []))
        }
      }
    }
    // The all-(p − 1) state: every limb of every product at its largest.
    const top = [p - 1n, p - 1n, p - 1n] as const
    expect(poseidonUpdate(top, [])).toEqual(reference(top, []))
  })

  test('absorbing inputs of every length 0..9, with edge values, equals mina-signer’s sponge', () => {
    for (let n = 0; n <= 9; n++) {
      const input = Array.from({ length: n }, (_, i) =>
        i % 3 === 0 ? EDGES[(n + i) % EDGES.length]! : randomField(),
      )
      const state = [randomField(), p - 1n, 0n] as const
      expect(poseidonUpdate(state, input)).toEqual(reference(state, input))
      expect(poseidonHashWithPrefix(SIGNATURE_PREFIX, input)).toBe(
        referenceHashWithPrefix(SIGNATURE_PREFIX, input),
      )
    }
  })

  test('inputs at or past the modulus are reduced by the sponge as before, and refused by the verifier', () => {
    // The sponge adds mod p (as mina-signer's does); a message Field ≥ p is refused before hashing.
    for (const past of [p, p + 1n, 2n * p - 1n, (1n << 256n) - 1n]) {
      const state = [randomField(), randomField(), randomField()] as const
      expect(poseidonUpdate(state, [past, 5n])).toEqual(reference(state, [past % p, 5n]))
    }
    const fields = [p - 1n, 0n, 1n]
    const { signature, publicKey } = signedBy(fields)
    expect(verifyFields(fields, signature, publicKey).ok).toBe(true)
    expect(verifyFields([p + (p - 1n), 0n, 1n], signature, publicKey).ok).toBe(false)
    expect(verifyFields([p - 1n, p, 1n], signature, publicKey).ok).toBe(false)
  })
})

function signedBy(fields: bigint[]) {
  return { signature: signFields(fields, keys.user.privateKey), publicKey: keys.user.publicKey }
}

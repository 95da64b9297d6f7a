import { FIELD_MODULUS } from './mina-key.ts'
import { permuteWasm as permute } from './poseidon-wasm.ts'

// Kimchi Poseidon as o1js and mina-signer compute it outside the circuit: width 3, rate 2,
// 55 full rounds of x⁷ S-box then MDS then round constants, and no round constant before the
// first round (Mina moves it to the end of each round). The permutation runs in WebAssembly
// (poseidon-wasm.ts, Montgomery arithmetic on 32-bit limbs): the Worker verifies a voucher per
// request, and over bigints the permutation was half of a verification's time.
// field-signature.test.ts and poseidon-wasm.test.ts hold it equal to mina-signer's.

const p = FIELD_MODULUS

/** A Poseidon sponge state: three Fields. */
export type PoseidonState = readonly [bigint, bigint, bigint]

/** Absorbs Fields (each below the modulus) into a state, two per permutation, zero-padded; empty input still permutes once, as in mina-signer. */
export function poseidonUpdate(state: PoseidonState, input: readonly bigint[]): PoseidonState {
  let [a, b, c] = state
  if (input.length === 0) return permute(a, b, c)
  for (let i = 0; i < input.length; i += 2) {
    a = (a + input[i]!) % p
    b = (b + (input[i + 1] ?? 0n)) % p
    ;[a, b, c] = permute(a, b, c)
  }
  return [a, b, c]
}

/** The Field a hash prefix stands for: its UTF-8 bytes, zero-padded to 32, read little-endian. */
export function prefixToField(prefix: string): bigint {
  const bytes = new TextEncoder().encode(prefix)
  if (bytes.length >= 32) throw new RangeError('a Poseidon prefix is shorter than 32 bytes')
  let x = 0n
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!)
  return x
}

// A verifier hashes under the same prefix again and again, and its messages often open with the
// same two Fields (a voucher: its domain tag and the service's key), so both the salted state and
// the state after such a first block are kept. The block cache is bounded and simply starts over
// when full: a stranger who fills it with fresh messages costs one permutation each, no more.
const salts = new Map<string, PoseidonState>()
const firstBlocks = new Map<string, PoseidonState>()
const FIRST_BLOCK_CACHE = 1024

/** The state after absorbing a prefix alone (mina-signer's `salt`), computed once per prefix. */
export function poseidonSalt(prefix: string): PoseidonState {
  let s = salts.get(prefix)
  if (!s) {
    s = poseidonUpdate([0n, 0n, 0n], [prefixToField(prefix)])
    salts.set(prefix, s)
  }
  return s
}

/** Poseidon hash of Fields (each below the modulus) under a prefix, equal to o1js `Poseidon.hashWithPrefix`. */
export function poseidonHashWithPrefix(prefix: string, input: readonly bigint[]): bigint {
  const salt = poseidonSalt(prefix)
  if (input.length <= 2) return poseidonUpdate(salt, input)[0]
  const key = `${prefix}:${input[0]}:${input[1]}`
  let state = firstBlocks.get(key)
  if (!state) {
    state = poseidonUpdate(salt, input.slice(0, 2))
    if (firstBlocks.size >= FIRST_BLOCK_CACHE) firstBlocks.clear()
    firstBlocks.set(key, state)
  }
  return poseidonUpdate(state, input.slice(2))[0]
}

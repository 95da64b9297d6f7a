import { FIELD_MODULUS } from './mina-key.ts'
import { MDS, ROUND_CONSTANTS } from './poseidon-constants.ts'

// Kimchi Poseidon as o1js and mina-signer compute it outside the circuit: width 3, rate 2,
// 55 full rounds of x⁷ S-box then MDS then round constants, and no round constant before the
// first round (Mina moves it to the end of each round). Written out over three bigints because
// the Worker verifies a voucher per request and mina-signer's generic loop costs milliseconds.

const p = FIELD_MODULUS
const [[m00, m01, m02], [m10, m11, m12], [m20, m21, m22]] = MDS as [
  readonly [bigint, bigint, bigint],
  readonly [bigint, bigint, bigint],
  readonly [bigint, bigint, bigint],
]

/** A Poseidon sponge state: three Fields. */
export type PoseidonState = readonly [bigint, bigint, bigint]

// x⁷ = x⁴·x²·x with three reductions (the product of three reduced Fields is below 2^765).
const pow7 = (x: bigint): bigint => {
  const x2 = (x * x) % p
  const x4 = (x2 * x2) % p
  return (x4 * x2 * x) % p
}

function permute(a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] {
  for (const [k0, k1, k2] of ROUND_CONSTANTS as readonly (readonly [bigint, bigint, bigint])[]) {
    const sa = pow7(a)
    const sb = pow7(b)
    const sc = pow7(c)
    // One reduction per row: the sum of three products and a constant stays far below 2^520.
    a = (m00 * sa + m01 * sb + m02 * sc + k0) % p
    b = (m10 * sa + m11 * sb + m12 * sc + k1) % p
    c = (m20 * sa + m21 * sb + m22 * sc + k2) % p
  }
  return [a, b, c]
}

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

import { FIELD_MODULUS } from './mina-key.ts'

// The WebAssembly module behind Poseidon (poseidon.ts), written out here as bytes rather than
// compiled from another language: a Worker cannot compile WebAssembly at run time, so the same
// bytes are also committed as poseidon.wasm (poseidon-wasm.test.ts holds the two equal; regenerate
// with `node --import ./scripts/swc-register.mjs protocol/poseidon-wasm-write.ts`).
//
// A Field is 9 little-endian 29-bit limbs (one u32 each) in memory, in Montgomery form (R = 2^261)
// inside the permutation. A limb product is below 2^58, so a Montgomery multiplication adds up to
// 18 products per limb in an i64 without carrying and carries once at the end (the CIOS loop of
// Koç et al. 1996 with lazy carries): two i64 operations per limb product, where BigInt needs a
// 765-bit product and a division. Exports: `memory` and `permute(state)`, which takes three
// canonical Fields at `state` (not Montgomery) and leaves the permuted three there, canonical.
// The round constants, MDS, R² and 1 are written into memory by the loader (poseidon-wasm.ts).

/** Limbs of a Field and their width. */
export const LIMBS = 9
export const LIMB_BITS = 29
/** Bytes between two Fields in memory. */
export const STRIDE = 40
/** The Montgomery radix R = 2^(LIMBS·LIMB_BITS). */
export const MONTGOMERY_R = 1n << BigInt(LIMBS * LIMB_BITS)
/** Byte offsets in the module's memory. */
export const LAYOUT = {
  /** Three Fields: the permutation's input and output. */
  state: 0,
  /** Scratch: the three S-box outputs, then x², x⁴ and a product. */
  scratch: 128,
  /** R² mod p (to enter Montgomery form), then 1 (to leave it). */
  r2: 512,
  one: 512 + STRIDE,
  /** The MDS matrix row by row, Montgomery form. */
  mds: 1024,
  /** The round constants, 3 per round, Montgomery form. */
  roundConstants: 2048,
} as const
export const ROUNDS = 55

export const MASK = (1n << BigInt(LIMB_BITS)) - 1n
const limbsOf = (x: bigint): bigint[] =>
  Array.from({ length: LIMBS }, (_, i) => (x >> BigInt(LIMB_BITS * i)) & MASK)
export const P = limbsOf(FIELD_MODULUS)
// −p⁻¹ mod 2^29 by Newton's iteration.
const N_PRIME = (() => {
  let inv = 1n
  for (let i = 0; i < 6; i++) inv = (inv * (2n - P[0]! * inv)) & MASK
  return (MASK + 1n - inv) & MASK
})()

export const uleb = (n: number): number[] => {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n) b |= 0x80
    out.push(b)
  } while (n)
  return out
}
export const sleb = (n: bigint): number[] => {
  const out: number[] = []
  for (;;) {
    const b = Number(n & 0x7fn)
    n >>= 7n
    if ((n === 0n && !(b & 0x40)) || (n === -1n && b & 0x40)) return [...out, b]
    out.push(b | 0x80)
  }
}
export const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)]
export const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()]
export const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body]

export const I32 = 0x7f
export const I64 = 0x7e
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (n: number) => [0x41, ...sleb(BigInt(n))],
  i64: (n: bigint) => [0x42, ...sleb(BigInt.asIntN(64, n))],
  load32: (offset: number) => [0x35, 2, ...uleb(offset)], // i64.load32_u, align 4
  store32: (offset: number) => [0x3e, 2, ...uleb(offset)], // i64.store32, align 4
  add: [0x7c],
  sub: [0x7d],
  mul: [0x7e],
  and: [0x83],
  shrU: [0x88],
  shrS: [0x87],
  i32Add: [0x6a],
  i32LtU: [0x49],
  wrap: [0xa7],
  select: [0x1b],
  call: (f: number) => [0x10, ...uleb(f)],
  loop: [0x03, 0x40],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  end: [0x0b],
}

// mul(out, a, b) and add(out, a, b): params 0..2 are byte offsets; i64 locals from 3.
const OUT = 0
const A = 1
const B = 2
export const a = (j: number) => 3 + j
export const b = (j: number) => 3 + LIMBS + j
export const t = (j: number) => 3 + 2 * LIMBS + j
const M = 3 + 3 * LIMBS
const X = M + 1
const BORROW = M + 2
export const FIELD_LOCALS = BORROW - 2 // i64 locals 3..BORROW

const BITS = BigInt(LIMB_BITS)

/** out = v − p if v ≥ p else v, for v in locals v(0..8): normalized limbs of a value below 2p. */
export function reduceAndStore(v: (j: number) => number): number[] {
  const code: number[] = [...op.i64(0n), ...op.set(BORROW)]
  // d_j = v_j − p_j − borrow into b(j) (free by now); a negative difference sets bit 63.
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(v(j)), ...op.i64(P[j]!), ...op.sub, ...op.get(BORROW), ...op.sub)
    code.push(...op.tee(X), ...op.i64(MASK), ...op.and, ...op.set(b(j)))
    code.push(...op.get(X), ...op.i64(63n), ...op.shrU, ...op.set(BORROW))
  }
  // BORROW is now 1 when v < p: keep v.
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(OUT), ...op.get(v(j)), ...op.get(b(j)), ...op.get(BORROW), ...op.wrap)
    code.push(...op.select, ...op.store32(4 * j))
  }
  return code
}

/** Carries locals v(0..8) into 29-bit limbs (the last keeps what is left); signed limbs carry with `shift` = shr_s. */
export function normalize(v: (j: number) => number, shift: number[] = op.shrU): number[] {
  const code: number[] = []
  for (let j = 0; j < LIMBS - 1; j++) {
    code.push(...op.get(v(j + 1)), ...op.get(v(j)), ...op.i64(BITS), ...shift, ...op.add)
    code.push(...op.set(v(j + 1)), ...op.get(v(j)), ...op.i64(MASK), ...op.and, ...op.set(v(j)))
  }
  return code
}

export function mulBody(): number[] {
  const code: number[] = []
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(A), ...op.load32(4 * j), ...op.set(a(j)))
    code.push(...op.get(B), ...op.load32(4 * j), ...op.set(b(j)))
  }
  // The accumulator's limbs rotate instead of moving: slot[k] is the local holding limb k now.
  const slot = Array.from({ length: LIMBS }, (_, j) => t(j))
  for (let i = 0; i < LIMBS; i++) {
    // Each limb gains at most two products below 2^58 per round, 18 in all: below 2^63.
    for (let j = 0; j < LIMBS; j++) {
      code.push(...op.get(slot[j]!), ...op.get(a(j)), ...op.get(b(i)), ...op.mul, ...op.add)
      code.push(...op.set(slot[j]!))
    }
    // m = t0·(−p⁻¹) mod 2^29 makes t + m·p divisible by 2^29: add it, drop limb 0 into limb 1.
    code.push(...op.get(slot[0]!), ...op.i64(N_PRIME), ...op.mul, ...op.i64(MASK), ...op.and)
    code.push(...op.set(M))
    for (let j = 0; j < LIMBS; j++) {
      code.push(...op.get(slot[j]!), ...op.get(M), ...op.i64(P[j]!), ...op.mul, ...op.add)
      code.push(...op.set(slot[j]!))
    }
    code.push(...op.get(slot[1]!), ...op.get(slot[0]!), ...op.i64(BITS), ...op.shrU, ...op.add)
    code.push(...op.set(slot[1]!), ...op.i64(0n), ...op.set(slot[0]!))
    slot.push(slot.shift()!)
  }
  const v = (j: number) => slot[j]!
  return [...code, ...normalize(v), ...reduceAndStore(v)]
}

export function addBody(): number[] {
  // a, b < p < 2^255: the sum fits 9 limbs once carried.
  const code: number[] = []
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(A), ...op.load32(4 * j), ...op.get(B), ...op.load32(4 * j), ...op.add)
    code.push(...op.set(t(j)))
  }
  return [...code, ...normalize(t), ...reduceAndStore(t)]
}

// permute(state): param 0 the state's offset; local 1 the round constants' offset.
const MUL = 0
const ADD = 1
function permuteBody(): number[] {
  const ST = 0
  const RC = 1
  const st = (k: number) => [...op.get(ST), ...op.i32(STRIDE * k), ...op.i32Add]
  const at = (offset: number) => op.i32(offset)
  const rc = (k: number) => [...op.get(RC), ...op.i32(STRIDE * k), ...op.i32Add]
  const s = (k: number) => at(LAYOUT.scratch + STRIDE * k)
  const x2 = at(LAYOUT.scratch + 3 * STRIDE)
  const x4 = at(LAYOUT.scratch + 4 * STRIDE)
  const tmp = at(LAYOUT.scratch + 5 * STRIDE)
  const mds = (i: number, j: number) => at(LAYOUT.mds + STRIDE * (3 * i + j))
  const mul = (o: number[], x: number[], y: number[]) => [...o, ...x, ...y, ...op.call(MUL)]
  const add = (o: number[], x: number[], y: number[]) => [...o, ...x, ...y, ...op.call(ADD)]
  const code: number[] = []
  for (let k = 0; k < 3; k++) code.push(...mul(st(k), st(k), at(LAYOUT.r2)))
  code.push(...op.i32(LAYOUT.roundConstants), ...op.set(RC), ...op.loop)
  // x⁷ = x⁴·x²·x for each element, then the MDS rows, then this round's constants.
  for (let k = 0; k < 3; k++) {
    code.push(...mul(x2, st(k), st(k)), ...mul(x4, x2, x2), ...mul(x4, x4, x2))
    code.push(...mul(s(k), x4, st(k)))
  }
  for (let i = 0; i < 3; i++) {
    code.push(...mul(st(i), mds(i, 0), s(0)))
    code.push(...mul(tmp, mds(i, 1), s(1)), ...add(st(i), st(i), tmp))
    code.push(...mul(tmp, mds(i, 2), s(2)), ...add(st(i), st(i), tmp))
    code.push(...add(st(i), st(i), rc(i)))
  }
  code.push(...op.get(RC), ...op.i32(3 * STRIDE), ...op.i32Add, ...op.tee(RC))
  code.push(
    ...op.i32(LAYOUT.roundConstants + 3 * STRIDE * ROUNDS),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  )
  for (let k = 0; k < 3; k++) code.push(...mul(st(k), st(k), at(LAYOUT.one)))
  return code
}

export const fn = (locals: [number, number][], body: number[]) => {
  const code = [...vec(locals.map(([n, type]) => [...uleb(n), type])), ...body, ...op.end]
  return [...uleb(code.length), ...code]
}

/** The module's bytes (deterministic: the committed poseidon.wasm is exactly these). */
export function poseidonWasmBytes(): Uint8Array<ArrayBuffer> {
  const types = [
    [0x60, ...vec([[I32], [I32], [I32]]), ...vec([])],
    [0x60, ...vec([[I32]]), ...vec([])],
  ]
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(3, vec([[0], [0], [1]])),
    ...section(5, vec([[0x00, 1]])), // one 64 KiB page
    ...section(
      7,
      vec([
        [...name('memory'), 0x02, 0],
        [...name('permute'), 0x00, 2],
      ]),
    ),
    ...section(
      10,
      vec([
        fn([[FIELD_LOCALS, I64]], mulBody()),
        fn([[FIELD_LOCALS, I64]], addBody()),
        fn([[1, I32]], permuteBody()),
      ]),
    ),
  ])
}

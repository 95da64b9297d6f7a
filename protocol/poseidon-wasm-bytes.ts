import { FIELD_MODULUS } from './mina-key.ts'

// The WebAssembly module behind Poseidon (poseidon.ts), written out here as bytes rather than
// compiled from another language: a Worker cannot compile WebAssembly at run time, so the same
// bytes are also committed as poseidon.wasm (poseidon-wasm.test.ts holds the two equal; regenerate
// with `node --import ./scripts/swc-register.mjs protocol/poseidon-wasm-write.ts`).
//
// Fields are 8 little-endian 32-bit limbs in memory, in Montgomery form (R = 2^256) inside the
// permutation. A limb product plus two limbs fits in 64 bits, so each Montgomery step is an i64
// multiply-add (CIOS, Koç et al. 1996). BigInt needs a 765-bit product and a division per step;
// this needs neither. Exports: `memory` and `permute(state)`, which takes three canonical Fields
// at `state` (not Montgomery) and leaves the permuted three there, canonical. The round constants,
// MDS, R² and 1 are written into memory by the loader (poseidon-wasm.ts), at LAYOUT's offsets.

/** Byte offsets in the module's memory. */
export const LAYOUT = {
  /** Three Fields: the permutation's input and output. */
  state: 0,
  /** Scratch: the three S-box outputs, then x², x⁴ and a product. */
  scratch: 128,
  /** R² mod p (to enter Montgomery form), then 1 (to leave it). */
  r2: 512,
  one: 544,
  /** The MDS matrix row by row, Montgomery form. */
  mds: 1024,
  /** The round constants, 3 per round, Montgomery form. */
  roundConstants: 2048,
} as const
export const ROUNDS = 55

const LIMBS = 8
const MASK = 0xffffffffn
const limbsOf = (x: bigint): bigint[] =>
  Array.from({ length: LIMBS }, (_, i) => (x >> BigInt(32 * i)) & MASK)
const P = limbsOf(FIELD_MODULUS)
// −p⁻¹ mod 2^32 (p ≡ 1 mod 2^32 makes it 2^32 − 1; computed to stay honest if p were other).
const N_PRIME = (() => {
  let inv = 1n
  for (let i = 0; i < 6; i++) inv = (inv * (2n - P[0]! * inv)) & MASK
  return (1n << 32n) - inv
})()

const uleb = (n: number): number[] => {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n) b |= 0x80
    out.push(b)
  } while (n)
  return out
}
const sleb = (n: bigint): number[] => {
  const out: number[] = []
  for (;;) {
    const b = Number(n & 0x7fn)
    n >>= 7n
    if ((n === 0n && !(b & 0x40)) || (n === -1n && b & 0x40)) return [...out, b]
    out.push(b | 0x80)
  }
}
const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)]
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()]
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body]

const I32 = 0x7f
const I64 = 0x7e
const op = {
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
const a = (j: number) => 3 + j
const b = (j: number) => 11 + j
const t = (j: number) => 19 + j // t0..t9
const C = 29
const M = 30
const X = 31
const BORROW = 32
const FIELD_LOCALS = 30 // i64 locals 3..32

/** X = …value on the stack…; dst = X & mask; C = X >> 32. */
const splitInto = (dst: number) => [
  ...op.tee(X),
  ...op.i64(32n),
  ...op.shrU,
  ...op.set(C),
  ...op.get(X),
  ...op.i64(MASK),
  ...op.and,
  ...op.set(dst),
]

/** out = v − p if v ≥ p else v, for v in locals v(0..7) below 2p (limb 8, if any, in `top`). */
function reduceAndStore(v: (j: number) => number, top?: number): number[] {
  const code: number[] = [...op.i64(0n), ...op.set(BORROW)]
  // d_j = v_j − p_j − borrow into b(j) (free by now); a negative difference sets bit 63.
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(v(j)), ...op.i64(P[j]!), ...op.sub, ...op.get(BORROW), ...op.sub)
    code.push(...op.tee(X), ...op.i64(MASK), ...op.and, ...op.set(b(j)))
    code.push(...op.get(X), ...op.i64(63n), ...op.shrU, ...op.set(BORROW))
  }
  if (top !== undefined)
    code.push(...op.get(top), ...op.get(BORROW), ...op.sub, ...op.i64(63n), ...op.shrU)
  else code.push(...op.get(BORROW))
  code.push(...op.set(BORROW)) // 1 when v < p: keep v
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(OUT), ...op.get(v(j)), ...op.get(b(j)), ...op.get(BORROW), ...op.wrap)
    code.push(...op.select, ...op.store32(4 * j))
  }
  return code
}

function mulBody(): number[] {
  const code: number[] = []
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(A), ...op.load32(4 * j), ...op.set(a(j)))
    code.push(...op.get(B), ...op.load32(4 * j), ...op.set(b(j)))
  }
  for (let i = 0; i < LIMBS; i++) {
    code.push(...op.i64(0n), ...op.set(C))
    for (let j = 0; j < LIMBS; j++) {
      // t_j + a_j·b_i + C < 2^64
      code.push(...op.get(a(j)), ...op.get(b(i)), ...op.mul, ...op.get(t(j)), ...op.add)
      code.push(...op.get(C), ...op.add, ...splitInto(t(j)))
    }
    code.push(...op.get(t(8)), ...op.get(C), ...op.add, ...splitInto(t(8)))
    code.push(...op.get(C), ...op.set(t(9)))
    // m = t0·(−p⁻¹) mod 2^32; t + m·p is divisible by 2^32: shift one limb down while adding.
    code.push(...op.get(t(0)), ...op.i64(N_PRIME), ...op.mul, ...op.i64(MASK), ...op.and)
    code.push(...op.set(M))
    code.push(...op.get(M), ...op.i64(P[0]!), ...op.mul, ...op.get(t(0)), ...op.add)
    code.push(...op.i64(32n), ...op.shrU, ...op.set(C))
    for (let j = 1; j < LIMBS; j++) {
      code.push(...op.get(M), ...op.i64(P[j]!), ...op.mul, ...op.get(t(j)), ...op.add)
      code.push(...op.get(C), ...op.add, ...splitInto(t(j - 1)))
    }
    code.push(...op.get(t(8)), ...op.get(C), ...op.add, ...splitInto(t(7)))
    code.push(...op.get(t(9)), ...op.get(C), ...op.add, ...op.set(t(8)))
  }
  return [...code, ...reduceAndStore(t, t(8))]
}

function addBody(): number[] {
  // a, b < p < 2^254: the sum fits 8 limbs.
  const code: number[] = [...op.i64(0n), ...op.set(C)]
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(A), ...op.load32(4 * j), ...op.get(B), ...op.load32(4 * j), ...op.add)
    code.push(...op.get(C), ...op.add, ...splitInto(t(j)))
  }
  return [...code, ...reduceAndStore(t)]
}

// permute(state): param 0 the state's offset; local 1 the round constants' offset.
const MUL = 0
const ADD = 1
function permuteBody(): number[] {
  const ST = 0
  const RC = 1
  const st = (k: number) => [...op.get(ST), ...op.i32(32 * k), ...op.i32Add]
  const at = (offset: number) => op.i32(offset)
  const rc = (k: number) => [...op.get(RC), ...op.i32(32 * k), ...op.i32Add]
  const s = (k: number) => at(LAYOUT.scratch + 32 * k)
  const x2 = at(LAYOUT.scratch + 96)
  const x4 = at(LAYOUT.scratch + 128)
  const tmp = at(LAYOUT.scratch + 160)
  const mds = (i: number, j: number) => at(LAYOUT.mds + 32 * (3 * i + j))
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
  code.push(...op.get(RC), ...op.i32(96), ...op.i32Add, ...op.tee(RC))
  code.push(...op.i32(LAYOUT.roundConstants + 96 * ROUNDS), ...op.i32LtU, ...op.brIf(0), ...op.end)
  for (let k = 0; k < 3; k++) code.push(...mul(st(k), st(k), at(LAYOUT.one)))
  return code
}

const fn = (locals: [number, number][], body: number[]) => {
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

import {
  addBody,
  FIELD_LOCALS,
  fn,
  I32,
  I64,
  LIMBS,
  mulBody,
  name,
  normalize,
  op,
  P,
  reduceAndStore,
  STRIDE,
  section,
  t,
  uleb,
  vec,
} from './poseidon-wasm-bytes.ts'

// The WebAssembly module behind the voucher verifier's curve arithmetic (pallas-wasm.ts): the
// double-scalar multiplication s·A + k·B on Pallas (y² = x³ + 5) with the Field arithmetic of the
// Poseidon module (poseidon-wasm-bytes.ts: Montgomery form, 9 limbs of 29 bits, the same
// generators). A second module rather than more functions in poseidon.wasm, which stays as it was
// (under 4 KB, the main-thread limit of synchronous compiles in Chromium before 114); this one is
// about 5 KB, held under 8 KB by pallas-wasm.test.ts. Committed as pallas.wasm for the Worker
// (pallas-wasm.test.ts holds the two equal; regenerate with
// `node --import ./scripts/swc-register.mjs protocol/poseidon-wasm-write.ts`).
//
// Points are homogeneous projective (X : Y : Z), the identity (0 : 1 : 0), added and doubled with
// the complete formulas of Renes, Costello and Batina 2016 (Algorithms 7 and 9, a = 0, b3 = 3·5):
// one formula for every input, the identity, P + P and P + (−P) included, so no special case to
// branch on and none to get wrong (a verification holds no secrets: the walk may branch on its
// public digits). The walk is Straus/Shamir's: one shared
// doubling chain over up to four scalars' bits, adding the table's sum of the points whose bits are
// set (the caller writes the table and the digits 0..15, most significant first). With Pallas'
// endomorphism a verification's two 255-bit scalars become four of 128 bits: half the doublings.

/** Byte offsets in the module's memory (a Field is STRIDE bytes, a point three Fields). */
export const CURVE_LAYOUT = {
  /** 1, canonical: a Montgomery product with it leaves Montgomery form. */
  one: 0,
  /** 3·b = 15, Montgomery form. */
  b3: STRIDE,
  /** Eight scratch Fields for the point formulas. */
  scratch: 2 * STRIDE,
  /** The accumulator point: the walk's input (the identity) and its result, Montgomery form. */
  acc: 512,
  /** The table of the walk: point d at table + d·POINT, d = 1..TABLE_SIZE − 1, written by the caller. */
  table: 1024,
  /** The digits, one byte each, most significant first. */
  digits: 3072,
} as const
/** Bytes of one point. */
export const POINT = 3 * STRIDE
/** The most digits the walk takes. */
export const MAX_DIGITS = 256
/** Table entries: the sums of every subset of up to four points. */
export const TABLE_SIZE = 16

// Function indices.
const MUL = 0
const ADD = 1
const SUB = 2
const DOUBLE = 3
const PADD = 4

/** out = a − b mod p for a, b < p: a + p − b in signed limbs, carried, then one conditional subtraction. */
function subBody(): number[] {
  const code: number[] = []
  for (let j = 0; j < LIMBS; j++) {
    code.push(...op.get(1), ...op.load32(4 * j), ...op.i64(P[j]!), ...op.add)
    code.push(...op.get(2), ...op.load32(4 * j), ...op.sub, ...op.set(t(j)))
  }
  // a + p − b lies in (0, 2p): the carries are signed (arithmetic shift), the total is not.
  return [...code, ...normalize(t, op.shrS), ...reduceAndStore(t)]
}

// A Field operand: code that pushes its address.
type Operand = number[]
const at = (offset: number): Operand => op.i32(offset)
const field = (param: number, k: number): Operand =>
  k === 0 ? op.get(param) : [...op.get(param), ...op.i32(k * STRIDE), ...op.i32Add]
const tmp = (k: number): Operand => at(CURVE_LAYOUT.scratch + k * STRIDE)
const B3 = at(CURVE_LAYOUT.b3)
const call3 = (f: number) => (o: Operand, x: Operand, y: Operand) => [
  ...o,
  ...x,
  ...y,
  ...op.call(f),
]
const mul = call3(MUL)
const add = call3(ADD)
const sub = call3(SUB)

/** padd(out, p1, p2): out = p1 + p2 (Algorithm 7). Every input is read before out is written, so out may be p1 or p2. */
function paddBody(): number[] {
  const [X1, Y1, Z1] = [0, 1, 2].map((k) => field(1, k)) as [Operand, Operand, Operand]
  const [X2, Y2, Z2] = [0, 1, 2].map((k) => field(2, k)) as [Operand, Operand, Operand]
  const [oX, oY, oZ] = [0, 1, 2].map((k) => field(0, k)) as [Operand, Operand, Operand]
  const [t0, t1, t2, t3, t4, X3, Y3, Z3] = [0, 1, 2, 3, 4, 5, 6, 7].map(tmp) as Operand[] as [
    Operand,
    Operand,
    Operand,
    Operand,
    Operand,
    Operand,
    Operand,
    Operand,
  ]
  return [
    ...mul(t0, X1, X2),
    ...mul(t1, Y1, Y2),
    ...mul(t2, Z1, Z2),
    ...add(t3, X1, Y1),
    ...add(t4, X2, Y2),
    ...mul(t3, t3, t4),
    ...add(t4, t0, t1),
    ...sub(t3, t3, t4),
    ...add(t4, Y1, Z1),
    ...add(X3, Y2, Z2),
    ...mul(t4, t4, X3),
    ...add(X3, t1, t2),
    ...sub(t4, t4, X3),
    ...add(X3, X1, Z1),
    ...add(Y3, X2, Z2), // the inputs' last use
    ...mul(X3, X3, Y3),
    ...add(Y3, t0, t2),
    ...sub(Y3, X3, Y3),
    ...add(X3, t0, t0),
    ...add(t0, X3, t0),
    ...mul(t2, B3, t2),
    ...add(Z3, t1, t2),
    ...sub(t1, t1, t2),
    ...mul(Y3, B3, Y3),
    ...mul(X3, t4, Y3),
    ...mul(t2, t3, t1),
    ...sub(oX, t2, X3),
    ...mul(Y3, Y3, t0),
    ...mul(t1, t1, Z3),
    ...add(oY, t1, Y3),
    ...mul(t0, t0, t3),
    ...mul(Z3, Z3, t4),
    ...add(oZ, Z3, t0),
  ]
}

/** double(pt): pt = 2·pt in place (Algorithm 9, with X·Y taken first so the inputs are read before any output is written). */
function doubleBody(): number[] {
  const [X, Y, Z] = [0, 1, 2].map((k) => field(0, k)) as [Operand, Operand, Operand]
  const [t0, t1, t2, t3, X3, Y3, Z3] = [0, 1, 2, 3, 4, 5, 6].map(tmp) as Operand[] as [
    Operand,
    Operand,
    Operand,
    Operand,
    Operand,
    Operand,
    Operand,
  ]
  return [
    ...mul(t3, X, Y),
    ...mul(t0, Y, Y),
    ...add(Z3, t0, t0),
    ...add(Z3, Z3, Z3),
    ...add(Z3, Z3, Z3),
    ...mul(t1, Y, Z),
    ...mul(t2, Z, Z), // the inputs' last use
    ...mul(t2, B3, t2),
    ...mul(X3, t2, Z3),
    ...add(Y3, t0, t2),
    ...mul(Z, t1, Z3),
    ...add(t1, t2, t2),
    ...add(t2, t1, t2),
    ...sub(t0, t0, t2),
    ...mul(Y3, t0, Y3),
    ...add(Y, X3, Y3),
    ...mul(X3, t0, t3),
    ...add(X, X3, X3),
  ]
}

/** walk(n): for each of the n digits d, acc = 2·acc + table[d] (table[0] unused: d = 0 adds nothing). */
function walkBody(): number[] {
  const N = 0
  const I = 1
  const D = 2
  const { acc, table, digits } = CURVE_LAYOUT
  return [
    ...op.loop,
    ...at(acc),
    ...op.call(DOUBLE),
    ...[...op.get(I), 0x2d, 0, ...uleb(digits)], // i32.load8_u digits[i]
    ...op.tee(D),
    ...[0x04, 0x40], // if
    ...at(acc),
    ...at(acc),
    ...op.get(D),
    ...op.i32(POINT),
    0x6c, // i32.mul
    ...op.i32(table),
    ...op.i32Add,
    ...op.call(PADD),
    ...op.end,
    ...op.get(I),
    ...op.i32(1),
    ...op.i32Add,
    ...op.tee(I),
    ...op.get(N),
    ...op.i32LtU,
    ...op.brIf(0),
    ...op.end,
  ]
}

/** canon(x): x leaves Montgomery form in place. */
const canonBody = (): number[] => [
  ...op.get(0),
  ...op.get(0),
  ...at(CURVE_LAYOUT.one),
  ...op.call(MUL),
]

/** The module's bytes (deterministic: the committed pallas.wasm is exactly these). */
export function pallasWasmBytes(): Uint8Array<ArrayBuffer> {
  const types = [
    [0x60, ...vec([[I32], [I32], [I32]]), ...vec([])],
    [0x60, ...vec([[I32]]), ...vec([])],
  ]
  const exports: [string, number, number][] = [
    ['memory', 0x02, 0],
    ['double', 0x00, DOUBLE],
    ['add', 0x00, PADD],
    ['walk', 0x00, 5],
    ['canon', 0x00, 6],
  ]
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(3, vec([[0], [0], [0], [1], [0], [1], [1]])),
    ...section(5, vec([[0x00, 1]])), // one 64 KiB page
    ...section(7, vec(exports.map(([n, kind, i]) => [...name(n), kind, i]))),
    ...section(
      10,
      vec([
        fn([[FIELD_LOCALS, I64]], mulBody()),
        fn([[FIELD_LOCALS, I64]], addBody()),
        fn([[FIELD_LOCALS, I64]], subBody()),
        fn([], doubleBody()),
        fn([], paddBody()),
        fn([[2, I32]], walkBody()),
        fn([], canonBody()),
      ]),
    ),
  ])
}

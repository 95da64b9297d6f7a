import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { FIELD_MODULUS } from './mina-key.ts'
import { ENDO_BETA, Pallas, type PallasPoint, SCALAR_MODULUS } from './pallas.ts'
import {
  addWasm,
  doubleWasm,
  multiScalarWasm,
  type ProjectivePoint,
  schnorrPointWasm,
} from './pallas-wasm.ts'
import { pallasWasmBytes } from './pallas-wasm-bytes.ts'
import { randomScalar } from './test-support/field-signer.ts'

// The WebAssembly curve against noble's bigint Pallas (the reference, itself held to mina-signer's
// in field-signature.test.ts): random points and scalars, and every edge the formulas and the walk
// could get wrong. Points are compared as points (projective coordinates are not unique).

const p = FIELD_MODULUS
const n = SCALAR_MODULUS
const G = Pallas.BASE
const ZERO = Pallas.ZERO
const asPoint = (w: ProjectivePoint): PallasPoint => new Pallas(w.X, w.Y, w.Z)
const proj = (P: PallasPoint): ProjectivePoint => ({ X: P.X, Y: P.Y, Z: P.Z })
const same = (w: ProjectivePoint, P: PallasPoint) => asPoint(w).equals(P)
const randomPoint = () => G.multiply(randomScalar())
// (−1)³ + 5 = 4: the point (p − 1, 2) has the largest x, and small coordinates.
const TOP_X = Pallas.fromAffine({ x: p - 1n, y: 2n })
const POINTS = (): PallasPoint[] => [
  G,
  G.negate(),
  TOP_X,
  TOP_X.negate(),
  Pallas.fromAffine({ x: (ENDO_BETA * 1n) % p, y: G.y }), // ψ(G) = λ·G
  randomPoint(),
  randomPoint(),
]
const SCALARS = [0n, 1n, 2n, n - 1n, n - 2n, 1n << 128n, (1n << 128n) - 1n, 1n << 253n, n >> 1n]
const mul = (P: PallasPoint, k: bigint) => P.multiplyUnsafe(k % n)

test('the committed pallas.wasm is the module pallas-wasm-bytes.ts writes', () => {
  // The Worker imports the file; Node and the page compile the bytes: they must be one module.
  const committed = readFileSync(new URL('./pallas.wasm', import.meta.url))
  expect(Buffer.from(pallasWasmBytes()).equals(committed)).toBe(true)
  // Small enough to compile synchronously anywhere: Chromium dropped its 4 KB main-thread limit in
  // version 114 (Firefox and Safari never had one); 8 KB keeps it cheap on the page.
  expect(committed.length).toBeLessThanOrEqual(8192)
})

describe('point addition and doubling equal noble’s', () => {
  test('on random points, and with projective inputs (Z ≠ 1)', () => {
    for (let i = 0; i < 100; i++) {
      const [P, Q] = [randomPoint(), randomPoint()]
      expect(same(addWasm(proj(P), proj(Q)), P.add(Q))).toBe(true)
      expect(same(doubleWasm(proj(P)), P.double())).toBe(true)
      // The same points with another Z: (λX : λY : λZ).
      const l = randomScalar() % p || 1n
      const scaled = { X: (P.X * l) % p, Y: (P.Y * l) % p, Z: (P.Z * l) % p }
      expect(same(addWasm(scaled, proj(Q)), P.add(Q))).toBe(true)
      expect(same(doubleWasm(scaled), P.double())).toBe(true)
    }
  })

  test('on the edges: the identity, P + P, P + (−P), and the largest coordinates', () => {
    for (const P of [...POINTS(), ZERO]) {
      expect(same(addWasm(proj(P), proj(ZERO)), P)).toBe(true)
      expect(same(addWasm(proj(ZERO), proj(P)), P)).toBe(true)
      expect(same(addWasm(proj(P), proj(P)), P.double())).toBe(true)
      expect(same(addWasm(proj(P), proj(P.negate())), ZERO)).toBe(true)
      expect(same(doubleWasm(proj(P)), P.double())).toBe(true)
      for (const Q of POINTS()) expect(same(addWasm(proj(P), proj(Q)), P.add(Q))).toBe(true)
    }
    // The identity's other representations (0 : Y : 0) stay the identity.
    expect(same(doubleWasm({ X: 0n, Y: p - 1n, Z: 0n }), ZERO)).toBe(true)
    expect(same(addWasm({ X: 0n, Y: 7n, Z: 0n }, proj(G)), G)).toBe(true)
  })
})

describe('the Straus walk equals noble’s multiplications', () => {
  test('one to four points, random scalars and edge scalars (0, 1, n − 1, high bits)', () => {
    for (let k = 1; k <= 4; k++) {
      for (let i = 0; i < 12; i++) {
        const points = Array.from({ length: k }, (_, j) => POINTS()[(i + j) % 7]!)
        const scalars = points.map((_, j) =>
          i % 2 ? SCALARS[(i + 3 * j) % SCALARS.length]! : randomScalar(),
        )
        const expected = points.reduce((acc, P, j) => acc.add(mul(P, scalars[j]!)), ZERO)
        expect(same(multiScalarWasm(scalars, points.map(proj)), expected), String(scalars)).toBe(
          true,
        )
      }
    }
  })

  test('scalars of 256 bits (past n, not reduced) and all-zero scalars', () => {
    const big = (1n << 256n) - 1n
    expect(same(multiScalarWasm([big], [proj(G)]), mul(G, big))).toBe(true)
    expect(same(multiScalarWasm([0n, 0n], [proj(G), proj(TOP_X)]), ZERO)).toBe(true)
    expect(() => multiScalarWasm([1n << 256n], [proj(G)])).toThrow(RangeError)
    expect(() => multiScalarWasm([-1n], [proj(G)])).toThrow(RangeError)
  })
})

describe('s·G − e·PK with the endomorphism equals noble’s', () => {
  test('on random keys and scalars, and every pair of edge scalars', () => {
    const check = (s: bigint, e: bigint, P: PallasPoint) => {
      const { x, y } = P.toAffine()
      const expected = mul(G, s).subtract(mul(P, e))
      expect(same(schnorrPointWasm(s, e, x, y), expected), `${s} ${e} ${x}`).toBe(true)
    }
    for (let i = 0; i < 100; i++) check(randomScalar(), randomScalar(), randomPoint())
    for (const s of SCALARS) for (const e of SCALARS) check(s, e, randomPoint())
    for (const P of POINTS()) for (const s of [0n, 1n, n - 1n]) check(s, randomScalar(), P)
    // R is the identity: s·G = e·PK.
    const sk = randomScalar()
    const e = randomScalar()
    const { x, y } = G.multiply(sk).toAffine()
    expect(schnorrPointWasm((e * sk) % n, e, x, y).Z).toBe(0n)
  })
})

import { _splitEndoScalar } from '@noble/curves/abstract/weierstrass.js'
import { pallasWasmModule } from '#pallas-wasm-module'
import { FIELD_MODULUS } from './mina-key.ts'
import { ENDO_BASIS, ENDO_BETA, Pallas, SCALAR_MODULUS } from './pallas.ts'
import { CURVE_LAYOUT, MAX_DIGITS, POINT } from './pallas-wasm-bytes.ts'
import { readLimbs, writeLimbs } from './poseidon-wasm.ts'
import { MONTGOMERY_R, STRIDE } from './poseidon-wasm-bytes.ts'

// Pallas' double-scalar multiplication in WebAssembly (pallas-wasm-bytes.ts), instantiated once per
// isolate on first use; the module comes from `#pallas-wasm-module` (the committed pallas.wasm in
// the Worker, the same bytes compiled in Node and the page). noble's bigint Pallas (pallas.ts) stays
// the reference: pallas-wasm.test.ts holds every operation equal to it.

const p = FIELD_MODULUS
const R = MONTGOMERY_R % p

/** A point in homogeneous projective coordinates (x = X/Z, y = Y/Z), canonical Fields; Z = 0 is the identity. */
export interface ProjectivePoint {
  X: bigint
  Y: bigint
  Z: bigint
}

interface Instance {
  view: DataView
  bytes: Uint8Array
  double: (pt: number) => void
  add: (out: number, p1: number, p2: number) => void
  walk: (digits: number) => void
  canon: (x: number) => void
}
let instance: Instance | undefined

function load(): Instance {
  const wasm = new WebAssembly.Instance(pallasWasmModule(), {})
  const memory = wasm.exports.memory as WebAssembly.Memory
  const view = new DataView(memory.buffer)
  writeLimbs(view, CURVE_LAYOUT.one, 1n)
  writeLimbs(view, CURVE_LAYOUT.b3, (15n * R) % p)
  const e = wasm.exports as Record<string, unknown>
  return {
    view,
    bytes: new Uint8Array(memory.buffer),
    double: e.double as Instance['double'],
    add: e.add as Instance['add'],
    walk: e.walk as Instance['walk'],
    canon: e.canon as Instance['canon'],
  }
}

/** The instance, loaded on first use. */
function wasm(): Instance {
  instance ??= load()
  return instance
}

const mont = (x: bigint) => (x * R) % p

function writePoint(w: Instance, offset: number, { X, Y, Z }: ProjectivePoint): void {
  writeLimbs(w.view, offset, mont(X))
  writeLimbs(w.view, offset + STRIDE, mont(Y))
  writeLimbs(w.view, offset + 2 * STRIDE, mont(Z))
}

function readPoint(w: Instance, offset: number): ProjectivePoint {
  const out = [0, 1, 2].map((k) => {
    w.canon(offset + k * STRIDE)
    return readLimbs(w.view, offset + k * STRIDE)
  })
  return { X: out[0]!, Y: out[1]!, Z: out[2]! }
}

const TABLE = (d: number) => CURVE_LAYOUT.table + d * POINT

/** p1 + p2 (complete: any two points, the identity included). */
export function addWasm(p1: ProjectivePoint, p2: ProjectivePoint): ProjectivePoint {
  const w = wasm()
  writePoint(w, TABLE(1), p1)
  writePoint(w, TABLE(2), p2)
  w.add(CURVE_LAYOUT.acc, TABLE(1), TABLE(2))
  return readPoint(w, CURVE_LAYOUT.acc)
}

/** 2·pt. */
export function doubleWasm(pt: ProjectivePoint): ProjectivePoint {
  const w = wasm()
  writePoint(w, CURVE_LAYOUT.acc, pt)
  w.double(CURVE_LAYOUT.acc)
  return readPoint(w, CURVE_LAYOUT.acc)
}

const IDENTITY: ProjectivePoint = { X: 0n, Y: 1n, Z: 0n }

/**
 * Σ scalars[j]·points[j] for up to four points and scalars below 2^256 (not reduced: the caller
 * reduces what it means to), in one Straus walk over a table of every subset's sum.
 */
export function multiScalarWasm(
  scalars: readonly bigint[],
  points: readonly ProjectivePoint[],
): ProjectivePoint {
  const k = points.length
  if (k === 0 || k > 4 || scalars.length !== k) throw new RangeError('one to four points')
  if (scalars.some((x) => x < 0n)) throw new RangeError('negative scalar')
  const w = wasm()
  const bits = scalars.map((x) => x.toString(2))
  const n = Math.max(...bits.map((b) => b.length))
  if (n > MAX_DIGITS) throw new RangeError('scalar above 2^256')
  // Digit i: bit j of scalar j at bit j of the digit, most significant first.
  const { bytes } = w
  const base = CURVE_LAYOUT.digits
  bytes.fill(0, base, base + n)
  for (let j = 0; j < k; j++) {
    const b = bits[j]!
    const pad = n - b.length
    for (let i = 0; i < b.length; i++) if (b.charCodeAt(i) === 49) bytes[base + pad + i]! |= 1 << j
  }
  // The table: the points themselves, then each other subset as a smaller subset plus its lowest point.
  for (let d = 1; d < 1 << k; d++) {
    const low = d & -d
    if (d === low) writePoint(w, TABLE(d), points[31 - Math.clz32(d)]!)
    else w.add(TABLE(d), TABLE(d - low), TABLE(low))
  }
  writePoint(w, CURVE_LAYOUT.acc, IDENTITY)
  w.walk(n)
  return readPoint(w, CURVE_LAYOUT.acc)
}

const G = { X: 1n, Y: Pallas.BASE.y, Z: 1n }
const GY_NEG = p - G.Y
const psi = (x: bigint) => (ENDO_BETA * x) % p

/**
 * s·G − e·PK for the affine key point (x, y) and scalars s, e below the group order, with Pallas'
 * endomorphism: each scalar splits into two halves of about 128 bits, k = k₁ + k₂·λ, and
 * λ·(x, y) = (β·x, y), so the walk takes four points and half the doublings.
 */
export function schnorrPointWasm(s: bigint, e: bigint, x: bigint, y: bigint): ProjectivePoint {
  const sp = _splitEndoScalar(s, ENDO_BASIS, SCALAR_MODULUS)
  const ep = _splitEndoScalar(e, ENDO_BASIS, SCALAR_MODULUS)
  const yNeg = y === 0n ? 0n : p - y
  // A negative half negates its point; −e·PK is e·(−PK).
  const point = (px: bigint, py: bigint, pyNeg: bigint, negative: boolean) => ({
    X: px,
    Y: negative ? pyNeg : py,
    Z: 1n,
  })
  return multiScalarWasm(
    [sp.k1, sp.k2, ep.k1, ep.k2],
    [
      point(G.X, G.Y, GY_NEG, sp.k1neg),
      point(psi(G.X), G.Y, GY_NEG, sp.k2neg),
      point(x, yNeg, y, ep.k1neg),
      point(psi(x), yNeg, y, ep.k2neg),
    ],
  )
}

import { poseidonWasmModule } from '#poseidon-wasm-module'
import { FIELD_MODULUS } from './mina-key.ts'
import { MDS, ROUND_CONSTANTS } from './poseidon-constants.ts'
import { LAYOUT, LIMB_BITS, LIMBS, MONTGOMERY_R, ROUNDS, STRIDE } from './poseidon-wasm-bytes.ts'

// The Poseidon permutation in WebAssembly (poseidon-wasm-bytes.ts), instantiated once per
// isolate on first use. How the module is obtained depends on the host, not the code: workerd
// forbids compiling WebAssembly at run time, so the Worker imports the committed poseidon.wasm
// (the "workerd" condition of `#poseidon-wasm-module` in package.json); Node and the page compile
// the same bytes from poseidon-wasm-bytes.ts.

const p = FIELD_MODULUS
const R = MONTGOMERY_R
const BITS = BigInt(LIMB_BITS)
const MASK = (1n << BITS) - 1n

let instance: { view: DataView; permute: (state: number) => void } | undefined

/** Writes a Field (reduced mod p first) as LIMBS limbs of LIMB_BITS bits, one u32 each. */
export function writeLimbs(view: DataView, offset: number, x: bigint): void {
  let v = x >= 0n && x < p ? x : ((x % p) + p) % p
  for (let i = 0; i < LIMBS; i++) {
    view.setUint32(offset + 4 * i, Number(v & MASK), true)
    v >>= BITS
  }
}

/** Reads a Field written as limbs. */
export function readLimbs(view: DataView, offset: number): bigint {
  let x = 0n
  for (let i = LIMBS - 1; i >= 0; i--)
    x = (x << BITS) | BigInt(view.getUint32(offset + 4 * i, true))
  return x
}

function load() {
  const wasm = new WebAssembly.Instance(poseidonWasmModule(), {})
  const memory = wasm.exports.memory as WebAssembly.Memory
  const view = new DataView(memory.buffer)
  const montgomery = (x: bigint) => (x * R) % p
  writeLimbs(view, LAYOUT.r2, (R * R) % p)
  writeLimbs(view, LAYOUT.one, 1n)
  for (const [i, m] of MDS.flat().entries())
    writeLimbs(view, LAYOUT.mds + STRIDE * i, montgomery(m))
  if (ROUND_CONSTANTS.length !== ROUNDS) throw new Error('Poseidon: round count mismatch')
  for (const [i, k] of ROUND_CONSTANTS.flat().entries())
    writeLimbs(view, LAYOUT.roundConstants + STRIDE * i, montgomery(k))
  return { view, permute: wasm.exports.permute as (state: number) => void }
}

/** The Kimchi Poseidon permutation of three Fields (each reduced mod p first). */
export function permuteWasm(a: bigint, b: bigint, c: bigint): [bigint, bigint, bigint] {
  instance ??= load()
  const { view } = instance
  const s = LAYOUT.state
  writeLimbs(view, s, a)
  writeLimbs(view, s + STRIDE, b)
  writeLimbs(view, s + 2 * STRIDE, c)
  instance.permute(s)
  return [readLimbs(view, s), readLimbs(view, s + STRIDE), readLimbs(view, s + 2 * STRIDE)]
}

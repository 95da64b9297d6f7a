import { Field, type IField } from '@noble/curves/abstract/modular.js'
import { weierstrass } from '@noble/curves/abstract/weierstrass.js'
import { FIELD_MODULUS } from './mina-key.ts'

/** The order of Pallas, the Mina curve: the modulus of its scalars. */
export const SCALAR_MODULUS = 0x40000000000000000000000000000000224698fc0994a8dd8c46eb2100000001n

// Mina's generator is (1, y); mina-signer's elliptic-curve.js publishes it with the endomorphism
// base β. pallas.test.ts checks λ·P = (β·x, y) for this λ and that the GLV basis below spans
// the lattice {(a, b) : a + b·λ ≡ 0 mod n} with determinant n, as noble's scalar split requires.
const GENERATOR_Y = 12418654782883325593414442427049395787963493412651469444558597405572177144507n
/** The cube root of unity β in the base field: ψ(x, y) = (β·x, y) = λ·(x, y). */
export const ENDO_BETA =
  20444556541222657078399132219657928148671392403212669005631716460534733845831n
/** λ in the scalar field, matching ENDO_BETA (mina-signer's `endoScalar`). */
export const ENDO_LAMBDA =
  26005156700822196841419187675678338661165322343552424574062261873906994770353n
/** A reduced basis of the GLV lattice (rows (a, b) with a + b·λ ≡ 0 mod n), from the extended Euclidean algorithm on (n, λ). */
export const ENDO_BASIS: [[bigint, bigint], [bigint, bigint]] = [
  [98231058071100081932162823354453065728n, -98231058071186745657228807397848383489n],
  [196462116142286827589391630752301449217n, 98231058071100081932162823354453065728n],
]

const p = FIELD_MODULUS
// noble reduces every sum with a division; the point formulas only ever add and subtract reduced
// elements, where one conditional subtraction gives the same reduced result at a fraction of the
// cost (about a third of a verification's time). The cross-check tests hold the curve to mina-signer.
// (defineProperty, not assignment: noble freezes the field's prototype, so assignment cannot shadow)
const Fp: IField<bigint> = Object.freeze(
  Object.create(Field(p), {
    add: {
      value: (a: bigint, b: bigint) => {
        const s = a + b
        return s >= p ? s - p : s
      },
    },
    sub: {
      value: (a: bigint, b: bigint) => {
        const d = a - b
        return d < 0n ? d + p : d
      },
    },
  }) as IField<bigint>,
)

/** Pallas (y² = x³ + 5) with Mina's generator and the GLV endomorphism, as noble points. */
export const Pallas = weierstrass(
  { p: FIELD_MODULUS, n: SCALAR_MODULUS, h: 1n, a: 0n, b: 5n, Gx: 1n, Gy: GENERATOR_Y },
  { Fp, endo: { beta: ENDO_BETA, basises: ENDO_BASIS } },
)
/** A Pallas point. */
export type PallasPoint = InstanceType<typeof Pallas>

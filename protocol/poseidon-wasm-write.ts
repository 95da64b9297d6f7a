import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { poseidonWasmBytes } from './poseidon-wasm-bytes.ts'

// Writes protocol/poseidon.wasm, the bytes the Worker imports (poseidon-wasm.test.ts checks it is current).
const out = fileURLToPath(new URL('./poseidon.wasm', import.meta.url))
writeFileSync(out, poseidonWasmBytes())
console.log(`wrote ${out}`)

import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pallasWasmBytes } from './pallas-wasm-bytes.ts'
import { poseidonWasmBytes } from './poseidon-wasm-bytes.ts'

// Writes protocol/poseidon.wasm and protocol/pallas.wasm, the bytes the Worker imports
// (poseidon-wasm.test.ts and pallas-wasm.test.ts check they are current).
for (const [file, bytes] of [
  ['./poseidon.wasm', poseidonWasmBytes()],
  ['./pallas.wasm', pallasWasmBytes()],
] as const) {
  const out = fileURLToPath(new URL(file, import.meta.url))
  writeFileSync(out, bytes)
  console.log(`wrote ${out}`)
}

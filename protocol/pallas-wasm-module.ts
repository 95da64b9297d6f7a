import { pallasWasmBytes } from './pallas-wasm-bytes.ts'

// As poseidon-wasm-module.ts: Node and browsers compile the bytes (below 4 KB, so a browser's main
// thread may compile it synchronously); the Worker takes pallas-wasm-module.workerd.ts instead
// (package.json `imports`).

// Workers' types declare the constructor abstract (workerd refuses it); this file never runs there.
const Compile = WebAssembly.Module as unknown as new (bytes: BufferSource) => WebAssembly.Module

/** The compiled Pallas module. */
export const pallasWasmModule = (): WebAssembly.Module => new Compile(pallasWasmBytes())

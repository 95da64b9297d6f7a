import { pallasWasmBytes } from './pallas-wasm-bytes.ts'

// As poseidon-wasm-module.ts: Node and browsers compile the bytes synchronously (about 5 KB:
// Chromium has allowed any size on the main thread since version 114, Firefox and Safari always
// did); the Worker takes pallas-wasm-module.workerd.ts instead (package.json `imports`).

// Workers' types declare the constructor abstract (workerd refuses it); this file never runs there.
const Compile = WebAssembly.Module as unknown as new (bytes: BufferSource) => WebAssembly.Module

/** The compiled Pallas module. */
export const pallasWasmModule = (): WebAssembly.Module => new Compile(pallasWasmBytes())
